package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
)

func TestRateLimit(t *testing.T) {
	e := newEnv(t, Options{EmptyOrg: true, RateLimit: 3})
	rc := testkit.NewManualClock(t0)
	e.s.rateNow = rc.Now // the limiter's window, held still
	wantHeaders := []string{
		"limit=3, remaining=2, reset=1.000",
		"limit=3, remaining=1, reset=1.000",
		"limit=3, remaining=0, reset=1.000",
	}
	for i, want := range wantHeaders {
		code, _, h := e.do("GET", "/api/v1/me/", nil)
		if code != 200 || h.Get("RateLimit") != want {
			t.Fatalf("request %d: %d RateLimit %q, want %q", i, code, h.Get("RateLimit"), want)
		}
	}
	rc.Advance(250 * time.Millisecond)
	code, m, h := e.do("GET", "/api/v1/me/", nil)
	if code != 429 || h.Get("RateLimit") != "limit=3, remaining=0, reset=0.750" || h.Get("Retry-After") != "1" || m["error"] != "Rate limit exceeded." || m["rate_reset"] != 0.75 {
		t.Fatalf("over the limit: %d %v RateLimit %q Retry-After %q", code, m, h.Get("RateLimit"), h.Get("Retry-After"))
	}
	// Errors count too, and carry the header (every response does).
	code, _, h = e.do("GET", "/api/v1/nope/", nil)
	if code != 429 || h.Get("RateLimit") == "" {
		t.Errorf("429 before routing: %d", code)
	}
	// A new window.
	rc.Advance(750 * time.Millisecond)
	if code, _, h = e.do("GET", "/api/v1/me/", nil); code != 200 || h.Get("RateLimit") != "limit=3, remaining=2, reset=1.000" {
		t.Errorf("next window: %d %q", code, h.Get("RateLimit"))
	}
	// The limit is per key: another credential has its own window.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/me/", nil)
	req.SetBasicAuth("someone-else", "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("RateLimit") != "limit=3, remaining=2, reset=1.000" {
		t.Errorf("other key: %d %q", resp.StatusCode, resp.Header.Get("RateLimit"))
	}
	// Off: no header.
	e.s.SetFaults(Faults{})
	if _, _, h = e.do("GET", "/api/v1/me/", nil); h.Get("RateLimit") != "" {
		t.Errorf("rate limit off but header %q", h.Get("RateLimit"))
	}
	if got := e.s.Requests("GET", "/me/"); got != 7 {
		t.Errorf("Requests(GET, /me/) = %d, want 7", got)
	}
	if got := e.s.Requests("", "/api/v1/"); got != 8 {
		t.Errorf("Requests(any) = %d, want 8", got)
	}
}

func TestInjectedFailuresAndDrops(t *testing.T) {
	e := newEnv(t, Options{EmptyOrg: true, FailureRate: 1})
	code, m, _ := e.do("POST", "/api/v1/bulk_action/delete/", `{"s_query":{"type":"match_all"}}`)
	if code != 503 || m["error"] != "Service Unavailable" || len(e.s.Jobs()) != 0 {
		t.Fatalf("injected failure: %d %v, %d jobs", code, m, len(e.s.Jobs()))
	}
	e.s.SetFaults(Faults{FailureRate: 1, FailureStatus: 502})
	if code, _, _ = e.do("GET", "/api/v1/me/", nil); code != 502 {
		t.Errorf("failure status 502: %d", code)
	}

	// Dropped connections: the client sees a transport error, nothing runs.
	e.s.SetFaults(Faults{DropRate: 1})
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/bulk_action/delete/", strings.NewReader(`{"s_query":{"type":"match_all"}}`))
	req.SetBasicAuth(DemoAPIKey, "")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("dropped request answered %d", resp.StatusCode)
	}
	if len(e.s.Jobs()) != 0 {
		t.Error("a dropped create made a job")
	}

	// Drop after the 2nd accepted create: the job exists, the answer never comes.
	e.s.SetFaults(Faults{DropAfterCreate: 2})
	e.create(`{"s_query":{"type":"match_all"}}`)
	req, _ = http.NewRequest("POST", e.srv.URL+"/api/v1/bulk_action/delete/", strings.NewReader(`{"s_query":{"type":"match_all"}}`))
	req.SetBasicAuth(DemoAPIKey, "")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("create after DropAfterCreate answered %d", resp.StatusCode)
	}
	if n := len(e.s.Jobs()); n != 2 {
		t.Fatalf("%d jobs, want 2 (the dropped create was accepted)", n)
	}
	e.create(`{"s_query":{"type":"match_all"}}`) // once only
	if n := len(e.s.Jobs()); n != 3 {
		t.Errorf("%d jobs, want 3", n)
	}

	// Latency only delays.
	e.s.SetFaults(Faults{Latency: time.Millisecond})
	if code, _, _ = e.do("GET", "/api/v1/me/", nil); code != 200 {
		t.Errorf("with latency: %d", code)
	}
	// SetFaults clamps nonsense.
	e.s.SetFaults(Faults{FailureRate: 7, DropRate: -1, RateLimit: -3, FailureStatus: 200})
	if f := e.s.Faults(); f.FailureRate != 1 || f.DropRate != 0 || f.RateLimit != 0 || f.FailureStatus != 503 {
		t.Errorf("clamped faults: %+v", f)
	}
}

func TestIndexLag(t *testing.T) {
	e, ids := evalOrg(t)
	e.s.SetFaults(Faults{IndexLag: 30 * time.Second})
	q := leads(fc("lead", "name", text("full_words", "acme")))
	m := e.create(`{"s_query":` + q + `}`)
	e.waitJob(m["id"].(string), "done")
	if e.s.HasLead(ids.acme) || e.s.NumLeads() != 3 {
		t.Fatal("the job did not delete")
	}
	// The search index still counts them (and their contacts)...
	if n := e.count(q); n != 2 {
		t.Errorf("count right after the delete: %d, want 2 (index lag)", n)
	}
	if n := e.count(contacts()); n != 5 {
		t.Errorf("contacts right after the delete: %d, want 5", n)
	}
	// ... but GET /lead/{id}/ tells the truth.
	if code, _, _ := e.do("GET", "/api/v1/lead/"+ids.acme+"/", nil); code != 404 {
		t.Errorf("GET deleted lead: %d", code)
	}
	e.clk.Advance(30 * time.Second)
	if n := e.count(q); n != 0 {
		t.Errorf("count after the lag: %d", n)
	}
	if n := e.count(contacts()); n != 3 {
		t.Errorf("contacts after the lag: %d, want 3", n)
	}
}

func TestOptions(t *testing.T) {
	bad := []Options{{Leads: -1}, {Leads: MaxLeads + 1}, {FailureRate: 2}, {DropRate: -0.1}, {DeleteRate: -1}, {RateLimit: -1}, {FailureStatus: 404}, {LoadExport: "testdata/nope.json"}}
	for _, o := range bad {
		if s, err := New(o); err == nil {
			s.Close()
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
