package guards

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
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/schema"
)

// harness is a guard talking over real HTTP to the sandbox, through a thin
// front that can lose a create's answer, answer creates itself, or serve
// crafted Smart Views (for view shapes the demo organization lacks).
// Everything else reaches the sandbox unchanged.
type harness struct {
	t         *testing.T
	sb        *sandbox.Server
	srv       *httptest.Server
	cl        *closeapi.Client
	g         *Guard
	log       *AuditLog
	auditPath string
	clock     *testClock

	// dropCreate: pass the create to the sandbox, then hang up unanswered.
	dropCreate atomic.Bool
	// failCreate: answer creates with this status without passing them on.
	failCreate atomic.Int32
	// intercept, when set, sees every request first; true means it
	// answered (or dropped) the request itself.
	intercept atomic.Pointer[func(w http.ResponseWriter, r *http.Request) bool]

	mu      sync.Mutex
	creates []json.RawMessage // bodies of every create that reached the front
	views   map[string]any    // Smart View id → the object to answer
}

// bystanders is how many unrelated leads every harness organization has.
const bystanders = 200

type harnessOpts struct {
	policy  Policy
	sandbox sandbox.Options
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	so := o.sandbox
	so.EmptyOrg = true
	sb, err := sandbox.New(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	// Bystanders: leads no test query matches, so that a test's own leads
	// are a small part of the organization (match_all and --max-share are
	// judged against every lead).
	for i := range bystanders {
		sb.AddLead(sandbox.LeadSpec{Name: fmt.Sprintf("Bystander Holdings %d", i+1), CreatedBy: "user_bystander"})
	}
	h := &harness{t: t, sb: sb, clock: newTestClock(), views: map[string]any{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.front))
	t.Cleanup(h.srv.Close)
	h.cl = h.client(sandbox.DemoAPIKey)
	h.auditPath = filepath.Join(t.TempDir(), "state", "bulkguard", "audit.jsonl")
	h.log, err = OpenAuditLog(h.auditPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.log.Close() })
	h.g = h.newGuard(o.policy)
	return h
}

func (h *harness) client(key string) *closeapi.Client {
	h.t.Helper()
	cl, err := closeapi.New(closeapi.Options{BaseURL: h.srv.URL + "/api/v1", APIKey: key, HTTPClient: &http.Client{Timeout: 20 * time.Second}})
	if err != nil {
		h.t.Fatal(err)
	}
	return cl
}

// newGuard builds another guard on the same clock and audit log (a second
// server process, as far as plans, nonces and known jobs go).
func (h *harness) newGuard(p Policy) *Guard {
	h.t.Helper()
	if p.Backup == "" {
		p.Backup = BackupOff // the backup step has its own tests (internal/server)
	}
	g, err := New(Config{Policy: p, Audit: h.log, Environment: "sandbox", Now: h.clock.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	return g
}

func (h *harness) front(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	if f := h.intercept.Load(); f != nil && (*f)(w, r) {
		return
	}
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/saved_search/save_") {
		id := strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/saved_search/"), "/")
		h.mu.Lock()
		v, ok := h.views[id]
		h.mu.Unlock()
		if ok {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(v)
			return
		}
	}
	if r.Method == http.MethodPost && r.URL.Path == "/api/v1/bulk_action/delete/" {
		h.mu.Lock()
		h.creates = append(h.creates, json.RawMessage(body))
		h.mu.Unlock()
		if st := h.failCreate.Load(); st != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(int(st))
			fmt.Fprintf(w, `{"error": "injected %d"}`, st)
			return
		}
		if h.dropCreate.Load() {
			// The job is made; the answer is lost on the way back.
			h.sb.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			conn.Close()
			return
		}
	}
	h.sb.ServeHTTP(w, r)
}

// createBodies returns the create requests that reached the front.
func (h *harness) createBodies() []closeapi.BulkDeleteRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []closeapi.BulkDeleteRequest
	for _, b := range h.creates {
		var r closeapi.BulkDeleteRequest
		if err := json.Unmarshal(b, &r); err != nil {
			h.t.Fatalf("create body %s: %v", b, err)
		}
		out = append(out, r)
	}
	return out
}

func (h *harness) setView(id string, v map[string]any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.views[id] = v
}

// addLeads adds n leads named "<word> <i>", created one minute apart
// (oldest first), and returns their ids in that order.
func (h *harness) addLeads(word string, n int) []string {
	base := time.Now().Add(-time.Duration(n+1) * time.Hour)
	var ids []string
	for i := range n {
		ids = append(ids, h.sb.AddLead(sandbox.LeadSpec{
			Name:        fmt.Sprintf("%s Testcorp %d", word, i+1),
			DateCreated: base.Add(time.Duration(i) * time.Minute),
		}))
	}
	return ids
}

// requests counts what reached the sandbox since the last reset.
func (h *harness) requests() int { return h.sb.Requests("", "/") }

// waitGone polls until none of ids is in the sandbox (the job ran).
func (h *harness) waitGone(ids []string) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := 0
		for _, id := range ids {
			if h.sb.HasLead(id) {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%d of %d leads still present", left, len(ids))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitStatus polls the job until its status is one of want.
func (h *harness) waitStatus(id string, want ...string) *closeapi.BulkDelete {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := h.cl.GetBulkDelete(context.Background(), id)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, w := range want {
			if j.StatusString() == w {
				return j
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s is %s, want %v", id, j.StatusString(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *harness) audit() []AuditRecord {
	h.t.Helper()
	recs, err := ReadAuditLog(h.auditPath)
	if err != nil {
		h.t.Fatal(err)
	}
	return recs
}

// nameQuery matches the leads whose name has word, as Close's own bulk
// delete example does (docs/close-api.md §1.2).
func nameQuery(word string) string {
	return fmt.Sprintf(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},`+
		`"condition":{"type":"text","mode":"full_words","value":%q}}]}`, word)
}

// newestFirst is Close's example sort (docs/close-api.md §1.2).
const newestFirst = `[{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"}}]`

// input decodes a query (bare or wrapped) and an optional sort into a
// PreviewInput, as the tools layer does.
func input(t *testing.T, query, sort string) PreviewInput {
	t.Helper()
	req, err := schema.Decode([]byte(query))
	if err != nil {
		t.Fatalf("decode %s: %v", query, err)
	}
	in := PreviewInput{Query: req.Query, Unrecognised: req.Unrecognised, Sort: req.Sort, ResultsLimit: req.ResultsLimit}
	if sort != "" {
		s, err := schema.DecodeSort([]byte(sort))
		if err != nil {
			t.Fatal(err)
		}
		in.Sort = s
	}
	return in
}

func (h *harness) preview(in PreviewInput) *Preview {
	h.t.Helper()
	p, err := h.g.Preview(context.Background(), h.cl, in)
	if err != nil {
		h.t.Fatalf("preview: %v", err)
	}
	return p
}

func phrase(p *Preview) Confirmation {
	return Confirmation{By: ConfirmedByPhrase, Phrase: p.ConfirmationPhrase}
}

func ptr[T any](v T) *T { return &v }
