package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
)

// The proof that replicas act as one: three in-process bulkguard servers
// (the wiring the binary runs), one Redis, one sandbox as Close, and a
// balancer in front.

const replicaTimeout = 30 * time.Second

var testSealKey = []byte("0123456789abcdef0123456789abcdef")

type replica struct {
	id    string
	url   string // base URL, no path
	audit string
	stop  func()
}

type cluster struct {
	t        *testing.T
	sb       *sandbox.Server
	redis    *testkit.Redis
	replicas []*replica
	auditDir string

	mu        sync.Mutex
	closeAuth []string // Authorization header of every request Close got
}

// newCluster starts n replicas sharing a Redis and a sandbox.
func newCluster(t *testing.T, n int, mod func(*Config)) *cluster {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{EmptyOrg: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	// Bystanders: a test's few leads must not be every lead, which the
	// guard refuses as match_all (and beyond --max-share).
	for i := range 20 {
		sb.AddLead(sandbox.LeadSpec{Name: fmt.Sprintf("Bystander Holdings %d", i+1)})
	}
	c := &cluster{t: t, sb: sb, redis: testkit.StartRedis(t), auditDir: t.TempDir()}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.closeAuth = append(c.closeAuth, r.Header.Get("Authorization"))
		c.mu.Unlock()
		sb.ServeHTTP(w, r)
	}))
	t.Cleanup(api.Close)
	for i := range n {
		cfg := Config{
			Transport: TransportHTTP,
			Listen:    "127.0.0.1:0",
			HTTPToken: testToken,
			Backend:   &Backend{BaseURL: api.URL + "/api/v1", APIKey: sb.APIKey(), Environment: EnvSandbox},
			AuditLog:  filepath.Join(c.auditDir, "audit-{replica}.jsonl"),
			Store:     c.redis.URL(),
			SealKey:   testSealKey,
			ReplicaID: fmt.Sprintf("r%d", i+1),
			Version:   "test",
		}
		if mod != nil {
			mod(&cfg)
		}
		c.replicas = append(c.replicas, startReplica(t, cfg))
	}
	return c
}

func startReplica(t *testing.T, cfg Config) *replica {
	t.Helper()
	s, cleanup, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.ServeListener(ctx, ln); err != nil {
			t.Errorf("replica %s: %v", cfg.ReplicaID, err)
		}
	}()
	var once sync.Once
	r := &replica{id: cfg.ReplicaID, url: "http://" + ln.Addr().String(), audit: AuditPathFor(cfg.AuditLog, cfg.ReplicaID)}
	r.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			cleanup()
		})
	}
	t.Cleanup(r.stop)
	return r
}

func (c *cluster) urls() []string {
	var out []string
	for _, r := range c.replicas {
		out = append(out, r.url)
	}
	return out
}

// leads adds n leads named "<word> Testcorp i" and returns the query for
// them.
func (c *cluster) leads(word string, n int) map[string]any {
	for i := range n {
		c.sb.AddLead(sandbox.LeadSpec{Name: fmt.Sprintf("%s Testcorp %d", word, i+1)})
	}
	return map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "name"},
			"condition": map[string]any{"type": "text", "mode": "full_words", "value": word}},
	}}
}

// events counts the audit records of each replica with event ev for plan.
func (c *cluster) events(plan, ev string) map[string]int {
	c.t.Helper()
	out := map[string]int{}
	for _, r := range c.replicas {
		recs, err := guards.ReadAuditLog(r.audit)
		if err != nil {
			c.t.Fatalf("audit log of %s: %v", r.id, err)
		}
		for _, rec := range recs {
			if rec.PlanID == plan && rec.Event == ev {
				out[r.id]++
			}
		}
	}
	return out
}

// person answers every confirmation form with the phrase it was asked for.
type person struct {
	mu    sync.Mutex
	asked int
}

func (p *person) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	p.mu.Lock()
	p.asked++
	p.mu.Unlock()
	phrase := ""
	if i := strings.Index(req.Params.Message, "Type DELETE "); i >= 0 {
		rest := req.Params.Message[i+len("Type "):]
		phrase = rest[:strings.Index(rest, " to confirm")]
	}
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"phrase": phrase}}}, nil
}

// connect is an MCP client of base's /mcp in era ("" = the client's
// default, the stateless 2026-07-28), answering forms through p when set.
func connect(t *testing.T, base, era string, p *person) *client.Client {
	t.Helper()
	return connectWith(t, base, era, p, testToken)
}

// connectWith is connect with another bearer token.
func connectWith(t *testing.T, base, era string, p *person, token string) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(base+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	var opts []client.ClientOption
	if era != "" {
		opts = append(opts, client.WithProtocolVersion(era))
	}
	if p != nil {
		opts = append(opts, client.WithElicitationHandler(p))
	}
	c := client.NewClient(tr, opts...)
	life, stop := context.WithCancel(context.Background())
	t.Cleanup(func() { _ = c.Close(); stop() })
	if err := c.Start(life); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), replicaTimeout)
	defer cancel()
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: era, ClientInfo: mcp.Implementation{Name: "replicas-test", Version: "1"}}}); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

func call(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), replicaTimeout)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// ok is the structured content of a successful call.
func ok(t *testing.T, c *client.Client, name string, args map[string]any) map[string]any {
	t.Helper()
	res := call(t, c, name, args)
	if res.IsError {
		t.Fatalf("%s: error result: %s", name, testkit.ResultText(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil || out == nil {
		t.Fatalf("%s: no structured content: %s", name, b)
	}
	return out
}

// refused checks that a call was refused with code and deleted nothing.
func refused(t *testing.T, res *mcp.CallToolResult, code string) {
	t.Helper()
	text := testkit.ResultText(res)
	if !res.IsError || !strings.Contains(text, "("+code+")") || !strings.Contains(text, "Nothing was deleted") {
		t.Fatalf("want a %s refusal, got isError=%v: %s", code, res.IsError, text)
	}
}

func preview(t *testing.T, c *client.Client, q map[string]any) (plan, phrase string) {
	t.Helper()
	pv := ok(t, c, "preview_bulk_delete", map[string]any{"s_query": q})
	plan, _ = pv["plan_id"].(string)
	phrase, _ = pv["confirmation_phrase"].(string)
	if pv["executable"] != true || plan == "" || phrase == "" {
		t.Fatalf("preview not executable: %v", pv)
	}
	return plan, phrase
}

func jobID(t *testing.T, created map[string]any) string {
	t.Helper()
	job, _ := created["job"].(map[string]any)
	id, _ := job["id"].(string)
	if id == "" {
		t.Fatalf("no job in %v", created)
	}
	return id
}

// TestReplicasActAsOne: a plan previewed on A is executed on B and read on
// C; a plan consumed on A cannot be replayed on B; 50 concurrent creates of
// one plan over three replicas start exactly one job; a replica killed
// between preview and create leaves its plan executable elsewhere; a
// confirmation form started on one replica is answered on another.
func TestReplicasActAsOne(t *testing.T) {
	c := newCluster(t, 3, nil)
	a := connect(t, c.replicas[0].url, "", nil)
	b := connect(t, c.replicas[1].url, "", nil)
	cc := connect(t, c.replicas[2].url, "", nil)

	t.Run("preview on A, create on B, get on C", func(t *testing.T) {
		plan, phrase := preview(t, a, c.leads("Alpha", 3))
		id := jobID(t, ok(t, b, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}))
		got := ok(t, cc, "get_bulk_delete", map[string]any{"id": id})
		if job, _ := got["job"].(map[string]any); job["id"] != id {
			t.Fatalf("get on C: %v", got)
		}
		if p := c.events(plan, guards.EventPreview); p["r1"] != 1 || len(p) != 1 {
			t.Errorf("preview records by replica: %v, want r1 only", p)
		}
		if cr := c.events(plan, guards.EventCreate); cr["r2"] != 1 || len(cr) != 1 {
			t.Errorf("create records by replica: %v, want r2 only", cr)
		}
	})

	t.Run("consumed on A cannot be replayed on B", func(t *testing.T) {
		plan, phrase := preview(t, cc, c.leads("Bravo", 2))
		jobID(t, ok(t, a, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}))
		jobs := len(c.sb.Jobs())
		refused(t, call(t, b, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}), guards.CodePlanConsumed)
		if n := len(c.sb.Jobs()); n != jobs {
			t.Fatalf("the replay started %d jobs", n-jobs)
		}
	})

	t.Run("50 concurrent creates of one plan over three replicas", func(t *testing.T) {
		lb := testkit.NewBalancer(t, c.urls()...)
		plan, phrase := preview(t, a, c.leads("Charlie", 4))
		jobs := len(c.sb.Jobs())
		clients := make([]*client.Client, 50)
		for i := range clients {
			clients[i] = connect(t, lb.URL, "", nil)
		}
		var (
			wg               sync.WaitGroup
			mu               sync.Mutex
			created, refusal int
			other            []string
			start            = make(chan struct{})
		)
		for _, cl := range clients {
			wg.Go(func() {
				<-start
				ctx, cancel := context.WithTimeout(context.Background(), replicaTimeout)
				defer cancel()
				res, err := cl.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "create_bulk_delete",
					Arguments: map[string]any{"plan_id": plan, "confirm": phrase}}})
				mu.Lock()
				defer mu.Unlock()
				switch text := ""; {
				case err != nil:
					other = append(other, err.Error())
				case !res.IsError:
					created++
				default:
					text = testkit.ResultText(res)
					if strings.Contains(text, "("+guards.CodePlanInUse+")") || strings.Contains(text, "("+guards.CodePlanConsumed+")") {
						refusal++
					} else {
						other = append(other, text)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if created != 1 || refusal != 49 || len(other) > 0 {
			t.Fatalf("%d created, %d refused as in use or consumed, others: %v; want 1 and 49", created, refusal, other)
		}
		if n := len(c.sb.Jobs()) - jobs; n != 1 {
			t.Fatalf("%d jobs reached Close, want exactly 1", n)
		}
		if served := lb.Served(); served[0] == 0 || served[1] == 0 || served[2] == 0 {
			t.Fatalf("the balancer did not spread the calls: %v", served)
		}
	})

	t.Run("a form started on one replica is answered on another", func(t *testing.T) {
		// The 2026-07-28 client retries the call with the answer and the
		// sealed state; round robin sends the retry to the next replica.
		lb := testkit.NewBalancer(t, c.urls()...)
		p := &person{}
		m := connect(t, lb.URL, "", p)
		plan, _ := preview(t, m, c.leads("Delta", 2))
		before := lb.Served()
		jobID(t, ok(t, m, "create_bulk_delete", map[string]any{"plan_id": plan}))
		if p.asked != 1 {
			t.Fatalf("the person was asked %d times, want 1", p.asked)
		}
		after := lb.Served()
		reached := 0
		for i := range after {
			if after[i] > before[i] {
				reached++
			}
		}
		if reached < 2 {
			t.Fatalf("the create and its retry reached %d replica(s) (%v → %v); the test needs two", reached, before, after)
		}
	})

	t.Run("a replica killed between preview and create", func(t *testing.T) {
		lb := testkit.NewBalancer(t, c.urls()...)
		m := connect(t, lb.URL, "", nil)
		plan, phrase := preview(t, a, c.leads("Echo", 2))
		c.replicas[0].stop()
		lb.SetDown(0, true)
		jobs := len(c.sb.Jobs())
		jobID(t, ok(t, m, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}))
		if n := len(c.sb.Jobs()) - jobs; n != 1 {
			t.Fatalf("%d jobs, want 1", n)
		}
		if cr := c.events(plan, guards.EventCreate); cr["r1"] != 0 || cr["r2"]+cr["r3"] != 1 {
			t.Fatalf("create records by replica: %v", cr)
		}
	})
}

// TestReplicasRedisRestart: with Redis gone, previews and creates on every
// replica are refused (store_unavailable, nothing deleted) and no job
// starts; once Redis is back the same replicas work without a restart.
func TestReplicasRedisRestart(t *testing.T) {
	c := newCluster(t, 3, nil)
	lb := testkit.NewBalancer(t, c.urls()...)
	m := connect(t, lb.URL, "", nil)
	q := c.leads("Foxtrot", 3)
	plan, phrase := preview(t, m, q)

	c.redis.Stop()
	jobs := len(c.sb.Jobs())
	for range 3 { // one call per replica
		refused(t, call(t, m, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}), guards.CodeStoreUnavailable)
		refused(t, call(t, m, "preview_bulk_delete", map[string]any{"s_query": q}), guards.CodeStoreUnavailable)
	}
	if n := len(c.sb.Jobs()); n != jobs {
		t.Fatalf("%d jobs started with Redis down", n-jobs)
	}

	c.redis.Restart()
	deadline := time.Now().Add(replicaTimeout)
	for {
		res := call(t, m, "preview_bulk_delete", map[string]any{"s_query": q})
		if !res.IsError {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery: %s", testkit.ResultText(res))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Redis kept nothing (no persistence here), so the old plan is unknown
	// on every replica; a new one runs.
	refused(t, call(t, m, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}), guards.CodePlanUnknown)
	for range 3 {
		plan, phrase = preview(t, m, q)
		jobID(t, ok(t, m, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}))
		q = c.leads(fmt.Sprintf("Golf%d", len(c.sb.Jobs())), 1)
	}
}

// TestReplicasLegacyClients: a 2025-11-25 client is served by any replica
// (mcp-go's session ids are not tied to the replica that issued them), so
// the typed-phrase confirmation works under round robin. A form
// confirmation in that era is a request the server pushes on the response
// stream and an answer the client posts back, which must reach the same
// replica: behind a balancer that keeps each Mcp-Session-Id on one replica
// it works.
func TestReplicasLegacyClients(t *testing.T) {
	c := newCluster(t, 3, nil)

	t.Run("phrase, round robin", func(t *testing.T) {
		lb := testkit.NewBalancer(t, c.urls()...)
		m := connect(t, lb.URL, mcp.ProtocolVersion20251125, nil)
		plan, phrase := preview(t, m, c.leads("Hotel", 2))
		jobID(t, ok(t, m, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}))
		if served := lb.Served(); served[0] == 0 || served[1] == 0 || served[2] == 0 {
			t.Fatalf("one client's calls did not reach every replica: %v", served)
		}
	})

	t.Run("form, sticky by Mcp-Session-Id", func(t *testing.T) {
		lb := testkit.NewStickyBalancer(t, "Mcp-Session-Id", c.urls()...)
		var clients []*client.Client
		var people []*person
		for range 3 {
			p := &person{}
			people = append(people, p)
			clients = append(clients, connect(t, lb.URL, mcp.ProtocolVersion20251125, p))
		}
		for i, m := range clients {
			plan, _ := preview(t, m, c.leads(fmt.Sprintf("India%d", i), 2))
			created := ok(t, m, "create_bulk_delete", map[string]any{"plan_id": plan})
			jobID(t, created)
			if receipt, _ := created["receipt"].(map[string]any); receipt["confirmed_by"] != guards.ConfirmedByElicitation {
				t.Fatalf("client %d: confirmed by %v, want elicitation", i, receipt["confirmed_by"])
			}
			if people[i].asked != 1 {
				t.Fatalf("client %d: the person was asked %d times", i, people[i].asked)
			}
		}
		if served := lb.Served(); served[0] == 0 || served[1] == 0 || served[2] == 0 {
			t.Fatalf("three sessions did not land on three replicas: %v", served)
		}
	})
}

// legacySession speaks 2025-11-25 streamable HTTP by hand, so a test can
// choose which replica each message goes to.
type legacySession struct {
	t   *testing.T
	id  string
	ids int
}

// post sends one JSON-RPC message to base and returns the response (the
// caller reads and closes the body).
func (ls *legacySession) post(base string, msg map[string]any) *http.Response {
	ls.t.Helper()
	body, err := json.Marshal(msg)
	if err != nil {
		ls.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(string(body)))
	if err != nil {
		ls.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if ls.id != "" {
		req.Header.Set("Mcp-Session-Id", ls.id)
		req.Header.Set("MCP-Protocol-Version", mcp.ProtocolVersion20251125)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ls.t.Fatal(err)
	}
	return resp
}

func (ls *legacySession) request(base, method string, params any) *http.Response {
	ls.ids++
	return ls.post(base, map[string]any{"jsonrpc": "2.0", "id": ls.ids, "method": method, "params": params})
}

// messages reads the JSON-RPC messages of a response (JSON or SSE) into ch.
func messages(resp *http.Response) <-chan map[string]any {
	ch := make(chan map[string]any, 8)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			var m map[string]any
			if json.NewDecoder(resp.Body).Decode(&m) == nil {
				ch <- m
			}
			return
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var m map[string]any
				if json.Unmarshal([]byte(data), &m) == nil {
					ch <- m
				}
			}
		}
	}()
	return ch
}

func nextMessage(t *testing.T, ch <-chan map[string]any, what string) map[string]any {
	t.Helper()
	select {
	case m, ok := <-ch:
		if !ok {
			t.Fatalf("%s: the stream ended", what)
		}
		return m
	case <-time.After(replicaTimeout):
		t.Fatalf("%s: nothing within %s", what, replicaTimeout)
	}
	return nil
}

// TestLegacyFormNeedsAffinity shows, message by message, what a
// 2025-11-25 form confirmation needs from a balancer: the replica that
// pushed the form waits for the answer itself. Posted to another replica,
// the answer is refused there and the create stays waiting (no job);
// posted to the replica that asked, the create completes.
func TestLegacyFormNeedsAffinity(t *testing.T) {
	c := newCluster(t, 2, nil)
	a, b := c.replicas[0].url, c.replicas[1].url
	ls := &legacySession{t: t}
	resp := ls.request(a, "initialize", map[string]any{"protocolVersion": mcp.ProtocolVersion20251125,
		"capabilities": map[string]any{"elicitation": map[string]any{}}, "clientInfo": map[string]any{"name": "raw", "version": "1"}})
	ls.id = resp.Header.Get("Mcp-Session-Id")
	nextMessage(t, messages(resp), "initialize")
	if ls.id == "" {
		t.Fatal("no Mcp-Session-Id")
	}
	note := ls.post(a, map[string]any{"jsonrpc": "2.0", "method": "notifications/initialized"})
	_ = note.Body.Close()

	pv := nextMessage(t, messages(ls.request(a, "tools/call", map[string]any{"name": "preview_bulk_delete",
		"arguments": map[string]any{"s_query": c.leads("Lima", 2)}})), "preview")
	sc, _ := pv["result"].(map[string]any)["structuredContent"].(map[string]any)
	plan, _ := sc["plan_id"].(string)
	phrase, _ := sc["confirmation_phrase"].(string)
	if plan == "" || phrase == "" {
		t.Fatalf("preview: %v", pv)
	}

	stream := messages(ls.request(a, "tools/call", map[string]any{"name": "create_bulk_delete", "arguments": map[string]any{"plan_id": plan}}))
	ask := nextMessage(t, stream, "the form")
	if ask["method"] != "elicitation/create" {
		t.Fatalf("replica A did not push a form: %v", ask)
	}
	answer := map[string]any{"jsonrpc": "2.0", "id": ask["id"],
		"result": map[string]any{"action": "accept", "content": map[string]any{"phrase": phrase}}}
	jobs := len(c.sb.Jobs())

	wrong := ls.post(b, answer)
	_ = wrong.Body.Close()
	if wrong.StatusCode == http.StatusAccepted {
		t.Fatalf("replica B accepted an answer to a form it never showed")
	}
	select {
	case m := <-stream:
		t.Fatalf("the create finished with its answer on another replica: %v", m)
	case <-time.After(2 * time.Second):
	}
	if n := len(c.sb.Jobs()); n != jobs {
		t.Fatalf("%d jobs started from an answer on the wrong replica", n-jobs)
	}

	right := ls.post(a, answer)
	_ = right.Body.Close()
	if right.StatusCode != http.StatusAccepted {
		t.Fatalf("replica A answered %d to its own form's answer", right.StatusCode)
	}
	done := nextMessage(t, stream, "the create")
	res, _ := done["result"].(map[string]any)
	if res == nil || res["isError"] == true {
		t.Fatalf("create after the answer reached A: %v", done)
	}
	if n := len(c.sb.Jobs()); n != jobs+1 {
		t.Fatalf("%d jobs, want 1", n-jobs)
	}
}
