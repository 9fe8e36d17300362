package reliability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	bgserver "github.com/bulkguard/bulkguard/internal/server"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/tools"
)

// Tool names, spelled out: they are the contract with clients (issue 4),
// so a rename in tools/ must fail here too.
const (
	toolPreview = "preview_bulk_delete"
	toolCreate  = "create_bulk_delete"
	toolList    = "list_bulk_deletes"
	toolGet     = "get_bulk_delete"
	toolPause   = "pause_bulk_delete"
	toolResume  = "resume_bulk_delete"
	toolLookup  = "lookup_close_ids"
)

// createPath and searchPath are below the API base (/api/v1).
const (
	createPath = "/bulk_action/delete/"
	searchPath = "/data/search/"
)

// clock is the guard's clock: real time plus an offset a test moves forward
// to expire plans, while the sandbox and the HTTP client stay on real time.
type clock = testkit.Clock

// action answers one request that a fault rule caught. next is the sandbox.
type action func(w http.ResponseWriter, r *http.Request, next http.Handler)

// rule applies act to the first times requests with this method and path
// (below /api/v1; "" matches any); times < 0 means every one.
type rule struct {
	method, path string
	times        int
	act          action
}

// faultProxy sits between the Close client and the sandbox. It injects the
// faults the sandbox's own knobs cannot express precisely (a fault on one
// endpoint only, an answer lost after the sandbox acted, a 429 without any
// hint of how long to wait), and counts every request it receives, which is
// how tests count attempts, including the ones the sandbox never saw.
type faultProxy struct {
	next http.Handler

	mu     sync.Mutex
	rules  []*rule
	counts map[string]int // "METHOD /path/" below /api/v1
}

func newFaultProxy(next http.Handler) *faultProxy {
	return &faultProxy{next: next, counts: map[string]int{}}
}

func (p *faultProxy) add(r rule) {
	p.mu.Lock()
	p.rules = append(p.rules, &r)
	p.mu.Unlock()
}

func (p *faultProxy) clear() {
	p.mu.Lock()
	p.rules = nil
	p.mu.Unlock()
}

// count is how many requests with this method and exact path arrived.
func (p *faultProxy) count(method, path string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method+" "+path]
}

// total is how many requests arrived, whatever their path.
func (p *faultProxy) total() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api/v1")
	p.mu.Lock()
	p.counts[r.Method+" "+path]++
	var act action
	for _, ru := range p.rules {
		if (ru.method == "" || ru.method == r.Method) && (ru.path == "" || ru.path == path) && ru.times != 0 {
			if ru.times > 0 {
				ru.times--
			}
			act = ru.act
			break
		}
	}
	p.mu.Unlock()
	if act == nil {
		p.next.ServeHTTP(w, r)
		return
	}
	act(w, r, p.next)
}

// reply answers status without the sandbox seeing the request, with the
// given headers and Close's error body.
func reply(status int, hdr ...string) action {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		for i := 0; i+1 < len(hdr); i += 2 {
			w.Header().Set(hdr[i], hdr[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error": %q}`, http.StatusText(status))
	}
}

// forwardThen lets the sandbox act on the request, then loses its answer
// and replies status instead: the job exists, the caller cannot know.
func forwardThen(status int) action {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(httptest.NewRecorder(), r)
		reply(status)(w, r, nil)
	}
}

// forwardThenHang lets the sandbox act, then holds the answer until the
// caller gives up (its client timeout): latency beyond the timeout after
// the create was accepted.
func forwardThenHang() action {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(httptest.NewRecorder(), r)
		waitGone(r)
	}
}

// waitGone waits until the caller has given up on r. net/http notices a
// closed connection only once the request body has been read, so the rest
// of it is read first. The wait is bounded so that a client that never
// gives up cannot hang the test's cleanup.
func waitGone(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	select {
	case <-r.Context().Done():
	case <-t.C:
	}
}

// hang never passes the request on and never answers; the caller's
// timeout ends it. The request did not take effect, but the caller cannot
// tell that from a lost answer.
func hang() action {
	return func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
		waitGone(r)
	}
}

// withoutRateHints passes the request to the sandbox and removes every hint
// of how long to wait from a 429 (RateLimit and Retry-After headers and the
// body's rate_reset), so the client has to back off on its own.
func withoutRateHints() action {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			switch http.CanonicalHeaderKey(k) {
			case "Ratelimit", "Retry-After", "Ratelimit-Reset", "Ratelimit-Remaining", "Ratelimit-Limit", "Content-Length":
				continue
			}
			w.Header()[k] = v
		}
		body := rec.Body.Bytes()
		if rec.Code == http.StatusTooManyRequests {
			body = []byte(`{"error": "Rate limit exceeded."}`)
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}
}

// envOpts configures an env. Zero values are fast, quiet defaults.
type envOpts struct {
	sandbox     sandbox.Options // Seed and Leads default to 11 and 60
	timeout     time.Duration   // Close client HTTP timeout; default 5s
	maxAttempts int             // default 4
	budget      time.Duration   // retry budget per call; default 4s
	policy      guards.Policy
	confirm     guards.ConfirmMode
}

// env is one sandbox behind a fault proxy, and bulkguard wired on it by
// internal/server (a Close client with small timeouts, a guard with its own
// audit log, the MCP server), with an in-process MCP client (modern era, no
// elicitation: it confirms with the phrase).
type env struct {
	t         *testing.T
	sb        *sandbox.Server
	proxy     *faultProxy
	base      string
	opts      envOpts
	clock     *clock
	auditPath string
	bg        *bgserver.Server
	cl        *closeapi.Client
	guard     *guards.Guard
	srv       *server.MCPServer
	c         *client.Client
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	if o.sandbox.Seed == 0 {
		o.sandbox.Seed = 11
	}
	if o.sandbox.Leads == 0 && !o.sandbox.EmptyOrg {
		o.sandbox.Leads = 60
	}
	if o.timeout == 0 {
		o.timeout = 5 * time.Second
	}
	if o.maxAttempts == 0 {
		o.maxAttempts = 4
	}
	if o.budget == 0 {
		o.budget = 4 * time.Second
	}
	sb, err := sandbox.New(o.sandbox)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	e := &env{t: t, sb: sb, proxy: newFaultProxy(sb), opts: o, clock: &clock{}}
	hs := httptest.NewServer(e.proxy)
	t.Cleanup(func() { hs.Close(); sb.Close() })
	e.base = hs.URL + "/api/v1"
	e.auditPath = filepath.Join(t.TempDir(), "audit.jsonl")
	e.restart()
	return e
}

// newClient is a Close client on the proxy with the env's timeouts, built
// the way the server builds the per-request client of --allow-client-keys.
func (e *env) newClient(key string) *closeapi.Client {
	e.t.Helper()
	cl, err := e.bg.ClientForKey(key)
	if err != nil {
		e.t.Fatalf("closeapi: %v", err)
	}
	return cl
}

// restart wires a new server (a new guard with a new, empty in-memory plan
// store, a new MCP server) and a new client on the same sandbox and audit
// log, as a restarted bulkguard process would be.
func (e *env) restart() {
	e.t.Helper()
	pol := e.opts.policy
	pol.Confirm = e.opts.confirm
	bg, cleanup, err := bgserver.New(bgserver.Config{
		Backend: &bgserver.Backend{BaseURL: e.base, APIKey: e.sb.APIKey(), Environment: bgserver.EnvSandbox},
		CloseClient: closeapi.Options{
			HTTPClient:  &http.Client{Timeout: e.opts.timeout},
			MaxAttempts: e.opts.maxAttempts,
			RetryBudget: e.opts.budget,
		},
		Policy:   pol,
		AuditLog: e.auditPath,
		Now:      e.clock.Now,
		Version:  "reliability-test",
	})
	if err != nil {
		e.t.Fatalf("server: %v", err)
	}
	e.t.Cleanup(cleanup)
	e.bg, e.cl, e.guard, e.srv = bg, bg.Client(), bg.Guard(), bg.MCP()
	e.c = connect(e.t, e.srv)
}

// deps are the tools' dependencies for a second caller of the same guard
// with Close client cl: what --allow-client-keys gives a request carrying
// another X-Close-Api-Key. In process, MCP carries no HTTP header, so that
// caller gets a tools server of its own on the env's guard.
func (e *env) deps(cl *closeapi.Client) tools.Deps {
	return tools.Deps{Guard: e.guard, Client: cl, Environment: bgserver.EnvSandbox, Version: "test"}
}

// connect starts an in-process MCP client on s (modern era, no
// elicitation handler).
func connect(t *testing.T, s *server.MCPServer) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatalf("in-process client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	testkit.Initialize(t, c, "reliability-test", 30*time.Second)
	return c
}

// call calls a tool; a protocol error (rather than a tool result) fails the
// test: every outcome a model must see is a result.
func call(t *testing.T, c *client.Client, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: protocol error instead of a tool result: %v", name, err)
	}
	if res == nil {
		t.Fatalf("%s: no result", name)
	}
	return res
}

func (e *env) call(name string, args any) *mcp.CallToolResult {
	e.t.Helper()
	return call(e.t, e.c, name, args)
}

// text is the text content of a result.
var text = testkit.ResultText

// wantError checks res is an isError result without structured content
// whose text contains every fragment (case-insensitively), and returns the
// text. The text is logged, so `go test -v` shows what a model would read.
func wantError(t *testing.T, res *mcp.CallToolResult, fragments ...string) string {
	t.Helper()
	txt := text(res)
	t.Logf("result: %s", clip(txt))
	if !res.IsError {
		t.Fatalf("want an isError result, got success: %s", clip(txt))
	}
	if res.StructuredContent != nil || len(res.RawStructuredContent) > 0 {
		t.Errorf("an isError result carries structuredContent: %v %s", res.StructuredContent, res.RawStructuredContent)
	}
	for _, f := range fragments {
		if !strings.Contains(strings.ToLower(txt), strings.ToLower(f)) {
			t.Errorf("error text lacks %q:\n%s", f, clip(txt))
		}
	}
	return txt
}

// wantNothingDeleted is wantError that also requires "Nothing was deleted".
func wantNothingDeleted(t *testing.T, res *mcp.CallToolResult, fragments ...string) string {
	t.Helper()
	return wantError(t, res, append(fragments, "Nothing was deleted")...)
}

// structured decodes a successful result's structured content into v.
func structured(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("want success, got error: %s", text(res))
	}
	b := []byte(res.RawStructuredContent)
	if len(b) == 0 {
		var err error
		if b, err = json.Marshal(res.StructuredContent); err != nil {
			t.Fatalf("structured content: %v", err)
		}
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
}

func clip(s string) string {
	if len(s) > 2000 {
		return s[:2000] + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return s
}

// Result shapes, as a client reads them (only the fields tests use).
type previewOut struct {
	PlanID             string   `json:"plan_id"`
	Environment        string   `json:"environment"`
	Total              int      `json:"total"`
	WillDelete         int      `json:"will_delete"`
	Executable         bool     `json:"executable"`
	ConfirmationPhrase string   `json:"confirmation_phrase"`
	Warnings           []string `json:"warnings"`
	Sample             []struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	} `json:"sample"`
}

type jobOut struct {
	ID           string `json:"id"`
	Status       string `json:"status"`
	ResultsLimit *int   `json:"results_limit"`
}

type createOut struct {
	Job     jobOut `json:"job"`
	Receipt struct {
		PlanID           string `json:"plan_id"`
		Previewed        int    `json:"previewed"`
		Recounted        int    `json:"recounted"`
		ResultsLimitSent int    `json:"results_limit_sent"`
		ConfirmedBy      string `json:"confirmed_by"`
		AuditID          string `json:"audit_id"`
		Reconciled       bool   `json:"reconciled"`
	} `json:"receipt"`
}

type getOut struct {
	Job      jobOut `json:"job"`
	Progress struct {
		Terminal bool `json:"terminal"`
	} `json:"progress"`
}

type listOut struct {
	Jobs []jobOut `json:"jobs"`
}

// idQuery matches exactly the leads with these ids.
var idQuery = testkit.IDQuery

// leads returns n existing lead ids (from the end of the list, so tests
// that pick leads twice pick the same ones) and a query for them.
func (e *env) leads(n int) ([]string, map[string]any) {
	e.t.Helper()
	return testkit.LastLeads(e.t, e.sb.LeadIDs(), n)
}

// preview previews args and requires an executable plan.
func (e *env) preview(args map[string]any) previewOut {
	e.t.Helper()
	var p previewOut
	structured(e.t, e.call(toolPreview, args), &p)
	if !p.Executable || p.PlanID == "" || p.ConfirmationPhrase == "" {
		e.t.Fatalf("preview is not executable: %+v", p)
	}
	return p
}

// creates is how many bulk-delete creates reached the sandbox.
func (e *env) creates() int { return e.sb.Requests(http.MethodPost, createPath) }

// jobs is how many bulk-delete jobs exist in the sandbox.
func (e *env) jobs() int { return len(e.sb.Jobs()) }

// waitDone polls get_bulk_delete until the job is terminal (bounded).
func (e *env) waitDone(id string) getOut {
	e.t.Helper()
	var g getOut
	for i := 0; i < 400; i++ {
		structured(e.t, e.call(toolGet, map[string]any{"id": id}), &g)
		if g.Progress.Terminal {
			return g
		}
		time.Sleep(25 * time.Millisecond)
	}
	e.t.Fatalf("job %s did not finish: %+v", id, g)
	return g
}

// rawCall sends a tools/call as raw JSON-RPC through HandleMessage, the way
// a hostile client could shape it: params are given as JSON text, and the
// request declares the modern protocol with the given client capabilities
// (`{}` = no elicitation, `{"elicitation":{}}` = form elicitation).
func rawCall(t *testing.T, s *server.MCPServer, name string, arguments string, caps string, extra string) *mcp.CallToolResult {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":%q,"arguments":%s`, name, arguments)
	if extra != "" {
		b.WriteString("," + extra)
	}
	fmt.Fprintf(&b, `,"_meta":{"io.modelcontextprotocol/protocolVersion":%q,"io.modelcontextprotocol/clientCapabilities":%s}}}`,
		mcp.ProtocolVersion20260728, caps)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// As every transport of internal/server hands a message to mcp-go.
	resp := s.HandleMessage(ctx, tools.MarkUnreadableArguments(b.Bytes()))
	out, err := json.Marshal(resp)
	if err != nil {
		t.Fatalf("marshal response: %v", err)
	}
	var msg struct {
		Error  *struct{ Message string } `json:"error"`
		Result json.RawMessage           `json:"result"`
	}
	if err := json.Unmarshal(out, &msg); err != nil {
		t.Fatalf("response %s: %v", clip(string(out)), err)
	}
	if msg.Error != nil || len(msg.Result) == 0 {
		t.Fatalf("%s: protocol error instead of a tool result: %s", name, clip(string(out)))
	}
	res, err := mcp.ParseCallToolResult(&msg.Result)
	if err != nil {
		t.Fatalf("parse result %s: %v", clip(string(msg.Result)), err)
	}
	return res
}
