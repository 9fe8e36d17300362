package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	sjs "github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/approval"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
)

var update = flag.Bool("update", false, "rewrite golden files")

// clock is the guard's clock: real time plus an offset a test can move
// forward (plan and confirmation expiry) while the sandbox keeps running on
// real time.
type clock = testkit.Clock

// fixture is one sandbox, one Close client on it, one guard with its own
// audit log, and the MCP server built by NewServer.
type fixture struct {
	t     *testing.T
	sb    *sandbox.Server
	url   string // the sandbox's API base URL
	cl    *closeapi.Client
	guard *guards.Guard
	clock *clock
	deps  Deps
	srv   *server.MCPServer
	audit string
}

type fixtureOpts struct {
	confirm  guards.ConfirmMode
	readOnly bool
	// deleteRate is the sandbox's objects per second; 0 is as fast as it
	// can.
	deleteRate float64
	policy     guards.Policy
	// approvals serves the approval page; elicitTimeout bounds the waits.
	approvals     bool
	elicitTimeout time.Duration
}

func newFixture(t *testing.T, o fixtureOpts) *fixture {
	t.Helper()
	opts := sandbox.Options{Seed: 7, Leads: 200, DeleteRate: o.deleteRate}
	if o.deleteRate > 0 {
		opts.BatchSize = 1 // paced one object at a time, so a job stays running
	}
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	hs := httptest.NewServer(sb)
	t.Cleanup(func() { hs.Close(); sb.Close() })
	f := &fixture{t: t, sb: sb, url: hs.URL + "/api/v1", clock: &clock{}}
	f.cl = f.newClient(sandbox.DemoAPIKey)
	f.audit = filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := guards.OpenAuditLog(f.audit)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	t.Cleanup(func() { log.Close() })
	pol := o.policy
	pol.Confirm = o.confirm
	if pol.Backup == "" {
		pol.Backup = guards.BackupOff // the backup step has its own tests (internal/server)
	}
	f.guard, err = guards.New(guards.Config{Policy: pol, Audit: log, Environment: "sandbox", Now: f.clock.Now})
	if err != nil {
		t.Fatalf("guard: %v", err)
	}
	f.deps = Deps{Guard: f.guard, Client: f.cl, Environment: "sandbox", ReadOnly: o.readOnly, Version: "test", ElicitTimeout: o.elicitTimeout}
	if o.approvals {
		f.deps.Approvals = approval.New(approval.Options{Now: f.clock.Now})
		t.Cleanup(func() { _ = f.deps.Approvals.Close() })
	}
	f.srv = NewServer(f.deps)
	return f
}

func (f *fixture) newClient(key string) *closeapi.Client {
	f.t.Helper()
	cl, err := closeapi.New(closeapi.Options{BaseURL: f.url, APIKey: key})
	if err != nil {
		f.t.Fatalf("closeapi: %v", err)
	}
	return cl
}

// pickLeads returns n existing lead ids and a query matching exactly them.
func (f *fixture) pickLeads(n int) ([]string, map[string]any) {
	f.t.Helper()
	return testkit.LastLeads(f.t, f.sb.LeadIDs(), n)
}

// idQuery matches the leads with these ids.
var idQuery = testkit.IDQuery

// era is a protocol era a client speaks.
type era struct{ name, version string }

var eras = []era{
	{"legacy-2025-11-25", mcp.ProtocolVersion20251125},
	{"modern-2026-07-28", ""}, // the client's default: server/discover
}

// clientOpts builds client options for an era and an optional person.
func clientOpts(e era, h client.ElicitationHandler) []client.ClientOption {
	var opts []client.ClientOption
	if e.version != "" {
		opts = append(opts, client.WithProtocolVersion(e.version))
	}
	if h != nil {
		opts = append(opts, client.WithElicitationHandler(h))
	}
	return opts
}

func initialize(t *testing.T, c *client.Client, e era) {
	t.Helper()
	// Start's context lives as long as the client: the stdio transport
	// answers the server's requests (elicitation) on it.
	res := testkit.Initialize(t, c, "tools-test", 20*time.Second)
	modern := mcp.IsModernProtocol(res.ProtocolVersion)
	if modern != (e.version == "") {
		t.Fatalf("negotiated %s, wanted era %s", res.ProtocolVersion, e.name)
	}
}

// inProcess connects an in-process client.
func inProcess(t *testing.T, s *server.MCPServer, e era, h client.ElicitationHandler) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClientWithOptions(s, clientOpts(e, h)...)
	if err != nil {
		t.Fatalf("in-process client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	initialize(t, c, e)
	return c
}

// overStdio connects a client to the server over real stdio pipes. mcp-go
// keeps one package-level stdio session, so tests using this must not run
// in parallel with each other.
func overStdio(t *testing.T, s *server.MCPServer, e era, h client.ElicitationHandler) *client.Client {
	t.Helper()
	clientIn, serverOut := io.Pipe()
	serverIn, clientOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = server.NewStdioServer(s).Listen(ctx, serverIn, serverOut)
	}()
	c := client.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(strings.NewReader(""))), clientOpts(e, h)...)
	t.Cleanup(func() {
		c.Close()
		cancel()
		clientOut.Close()
		serverOut.Close()
		<-done
	})
	initialize(t, c, e)
	return c
}

type connector struct {
	name    string
	connect func(t *testing.T, s *server.MCPServer, e era, h client.ElicitationHandler) *client.Client
}

var connectors = []connector{{"in-process", inProcess}, {"stdio", overStdio}}

// person answers confirmation forms the way a test scripts it, and keeps
// what it was shown.
type person struct {
	mu     sync.Mutex
	answer func(req mcp.ElicitationRequest) *mcp.ElicitationResult
	asked  []mcp.ElicitationRequest
}

func (p *person) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	p.mu.Lock()
	p.asked = append(p.asked, req)
	p.mu.Unlock()
	return p.answer(req), nil
}

func (p *person) times() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.asked)
}

func (p *person) last() mcp.ElicitationRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.asked[len(p.asked)-1]
}

// typing is a person who accepts and types text.
func typing(text string) *person {
	return &person{answer: func(mcp.ElicitationRequest) *mcp.ElicitationResult {
		return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
			Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"phrase": text}}}
	}}
}

// answering is a person who declines or cancels.
func answering(action mcp.ElicitationResponseAction) *person {
	return &person{answer: func(mcp.ElicitationRequest) *mcp.ElicitationResult {
		return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: action}}
	}}
}

// readingForm is a person who types the phrase the form asks for, read
// from the form's field description ("Type <phrase> exactly to confirm.").
func readingForm() *person {
	return &person{answer: func(req mcp.ElicitationRequest) *mcp.ElicitationResult {
		b, _ := json.Marshal(req.Params.RequestedSchema)
		var s struct {
			Properties struct {
				Phrase struct {
					Description string `json:"description"`
				} `json:"phrase"`
			} `json:"properties"`
		}
		_ = json.Unmarshal(b, &s)
		phrase := strings.TrimSuffix(strings.TrimPrefix(s.Properties.Phrase.Description, "Type "), " exactly to confirm.")
		return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
			Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"phrase": phrase}}}
	}}
}

// call calls a tool and checks the result's invariants: an isError result
// has text and no structuredContent and says what happened to the data; a
// success has structuredContent that names the environment and matches the
// tool's output schema.
func call(t *testing.T, c *client.Client, name string, args any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: protocol error (tools must answer with results): %v", name, err)
	}
	checkResult(t, name, res)
	return res
}

func checkResult(t *testing.T, name string, res *mcp.CallToolResult) {
	t.Helper()
	text := resultText(res)
	if text == "" {
		t.Fatalf("%s: result has no text content", name)
	}
	if strings.Contains(text, sandbox.DemoAPIKey) {
		t.Fatalf("%s: result contains the API key: %s", name, text)
	}
	if res.IsError {
		if res.StructuredContent != nil || len(res.RawStructuredContent) > 0 {
			t.Fatalf("%s: error result carries structuredContent: %v", name, res.StructuredContent)
		}
		if !strings.Contains(text, "Nothing was deleted") && !strings.Contains(text, "NOT paused") &&
			!strings.Contains(text, "stays paused") && !strings.Contains(text, "MAY HAVE STARTED") &&
			!strings.Contains(text, "may have reached Close") && !strings.Contains(text, "may or may not") {
			t.Fatalf("%s: error result does not say what happened to the data: %s", name, text)
		}
		return
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil || res.StructuredContent == nil {
		t.Fatalf("%s: success without structuredContent (%v)", name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: structuredContent is not an object: %s", name, raw)
	}
	if env, _ := m["environment"].(string); env != "sandbox" {
		t.Fatalf("%s: environment = %v, want sandbox", name, m["environment"])
	}
	if err := outputValidator(t, name).Validate(mustUnmarshalAny(t, raw)); err != nil {
		t.Fatalf("%s: structuredContent does not match the output schema: %v\n%s", name, err, raw)
	}
	// Content-only clients get the summary, then the same data as JSON.
	if len(res.Content) != 2 {
		t.Fatalf("%s: %d content blocks, want a summary and the JSON", name, len(res.Content))
	}
	last, ok := res.Content[1].(mcp.TextContent)
	if !ok || !reflect.DeepEqual(mustUnmarshalAny(t, []byte(last.Text)), mustUnmarshalAny(t, raw)) {
		t.Fatalf("%s: the last text block is not the structured content as JSON: %v", name, res.Content[1])
	}
}

// resultText is the text content of a result.
var resultText = testkit.ResultText

// structured decodes a success result's structuredContent into v.
func structured(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("unexpected error result: %s", resultText(res))
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode structuredContent: %v\n%s", err, b)
	}
}

// wantRefusal asserts an isError result carrying the refusal code.
func wantRefusal(t *testing.T, res *mcp.CallToolResult, code string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("want refusal %s, got success: %s", code, resultText(res))
	}
	if want := "Refused (" + code + ")"; !strings.Contains(resultText(res), want) {
		t.Fatalf("want %q in: %s", want, resultText(res))
	}
}

// wantError asserts an isError result containing every fragment.
func wantError(t *testing.T, res *mcp.CallToolResult, fragments ...string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("want error, got success: %s", resultText(res))
	}
	for _, f := range fragments {
		if !strings.Contains(resultText(res), f) {
			t.Fatalf("want %q in: %s", f, resultText(res))
		}
	}
}

var (
	validatorsMu sync.Mutex
	validators   = map[string]*sjs.Schema{}
)

// outputValidator compiles a tool's output schema (once).
func outputValidator(t *testing.T, name string) *sjs.Schema {
	t.Helper()
	validatorsMu.Lock()
	defer validatorsMu.Unlock()
	if v, ok := validators[name]; ok {
		return v
	}
	for _, st := range Tools(Deps{}) {
		if st.Tool.Name == name {
			v := compileSchema(t, "out/"+name, st.Tool.RawOutputSchema)
			validators[name] = v
			return v
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

func compileSchema(t *testing.T, id string, raw []byte) *sjs.Schema {
	t.Helper()
	doc, err := sjs.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("schema %s: %v", id, err)
	}
	c := sjs.NewCompiler()
	url := "mem://bulkguard/" + id + ".json"
	if err := c.AddResource(url, doc); err != nil {
		t.Fatalf("schema %s: %v", id, err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatalf("schema %s does not compile: %v", id, err)
	}
	return s
}

func mustUnmarshalAny(t *testing.T, b []byte) any {
	t.Helper()
	v, err := sjs.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return v
}

// preview previews q and returns the decoded result.
func preview(t *testing.T, c *client.Client, args map[string]any) previewResult {
	t.Helper()
	var p previewResult
	structured(t, call(t, c, ToolPreview, args), &p)
	return p
}

// waitDone polls get_bulk_delete until the job is terminal, within a
// generous deadline (the test never asserts how long it took).
func waitDone(t *testing.T, c *client.Client, id string) jobResult {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var j jobResult
		structured(t, call(t, c, ToolGet, map[string]any{"id": id}), &j)
		if j.Progress.Terminal {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not finished by the deadline: %+v", id, j.Progress)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantCreates fails t unless exactly n bulk-delete creates reached the
// sandbox (Close) so far.
func (f *fixture) wantCreates(t *testing.T, n int) {
	t.Helper()
	if got := f.sb.Requests("POST", "/api/v1/bulk_action/delete/"); got != n {
		t.Fatalf("%d bulk-delete creates reached Close, want %d", got, n)
	}
}
