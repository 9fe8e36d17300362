package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

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
