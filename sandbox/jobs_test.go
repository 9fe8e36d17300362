package sandbox

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// gate makes the job runners of e wait for e.step (set before any job).
func (e *env) gate() {
	e.s.step = make(chan struct{})
	e.s.stepDone = make(chan struct{})
}

// step lets the runner take one step and waits until it has.
func (e *env) step() {
	e.t.Helper()
	select {
	case e.s.step <- struct{}{}:
	case <-time.After(10 * time.Second):
		e.t.Fatal("no runner is waiting for a step")
	}
	select {
	case <-e.s.stepDone:
	case <-time.After(10 * time.Second):
		e.t.Fatal("the runner did not finish its step")
	}
}

func (e *env) create(body string) map[string]any {
	e.t.Helper()
	code, m, _ := e.do("POST", "/api/v1/bulk_action/delete/", body)
	if code != 200 {
		e.t.Fatalf("create %s: %d %v", body, code, m)
	}
	return m
}

func (e *env) job(id string) map[string]any {
	e.t.Helper()
	code, m, _ := e.do("GET", "/api/v1/bulk_action/delete/"+id+"/", nil)
	if code != 200 {
		e.t.Fatalf("get job: %d %v", code, m)
	}
	return m
}

func (e *env) setStatus(id, status string) (int, map[string]any) {
	e.t.Helper()
	code, m, _ := e.do("PUT", "/api/v1/bulk_action/delete/"+id+"/", `{"status":"`+status+`"}`)
	return code, m
}

// waitJob polls the job until it has the status (no timing is asserted:
// the deadline only stops a broken runner from hanging the test).
func (e *env) waitJob(id, status string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := e.job(id)
		if m["status"] == status {
			return m
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("job %s stuck in %v, want %s", id, m["status"], status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

var jobKeys = []string{"id", "bulk_object_type", "status", "s_query", "query", "results_limit", "sort", "send_done_email",
	"n_leads", "n_leads_processed", "n_objects", "n_objects_processed", "organization_id", "created_by", "updated_by",
	"date_created", "date_updated"}

func TestCreateJobShape(t *testing.T) {
	e, _ := evalOrg(t)
	e.gate()
	// The request of docs/close-api.md §1.2, verbatim.
	req := `{
  "s_query": {
    "type": "and",
    "queries": [
      {"type": "object_type", "object_type": "lead"},
      {"type": "field_condition",
       "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
       "condition": {"type": "text", "mode": "full_words", "value": "ACME Inc."}}
    ]
  },
  "results_limit": null,
  "sort": [{"direction": "desc",
            "field": {"type": "regular_field", "object_type": "lead", "field_name": "date_created"}}]
}`
	m := e.create(req)
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := append([]string(nil), jobKeys...)
	sort.Strings(want)
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("job keys %v, want the 17 of docs/close-api.md §1.3", keys)
	}
	var sent map[string]json.RawMessage
	_ = json.Unmarshal([]byte(req), &sent)
	var sq, so any
	_ = json.Unmarshal(sent["s_query"], &sq)
	_ = json.Unmarshal(sent["sort"], &so)
	me := e.s.UserID()
	exp := map[string]any{
		"bulk_object_type": "lead", "status": "created", "s_query": sq, "query": nil, "results_limit": nil, "sort": so,
		"send_done_email": true, "n_leads": nil, "n_leads_processed": 0.0, "n_objects": nil, "n_objects_processed": 0.0,
		"organization_id": e.s.st.orgID, "created_by": me, "updated_by": me,
		"date_created": "2026-11-30T12:00:00.000000+00:00", "date_updated": "2026-11-30T12:00:00.000000+00:00",
	}
	for k, v := range exp {
		if !reflect.DeepEqual(m[k], v) {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	id := m["id"].(string)
	if !strings.HasPrefix(id, "bulkdelete_") || len(id) != len("bulkdelete_")+43 {
		t.Errorf("id %q", id)
	}
	if got := e.job(id); !reflect.DeepEqual(got, m) {
		t.Errorf("GET differs from the create answer:\n%v\n%v", got, m)
	}
	if j := e.s.Jobs(); len(j) != 1 || j[0].ID != id || j[0].Status != "created" {
		t.Errorf("Jobs(): %+v", j)
	}

	// optional fields echo; contact deletes derive bulk_object_type.
	m = e.create(`{"s_query":` + contacts() + `,"results_limit":3,"send_done_email":false}`)
	if m["bulk_object_type"] != "contact" || m["results_limit"] != 3.0 || m["send_done_email"] != false || len(m["sort"].([]any)) != 0 {
		t.Errorf("contact job: %v", m)
	}
	m = e.create(`{"s_query":{"type":"match_all"},"bulk_object_type":"lead"}`)
	if m["bulk_object_type"] != "lead" {
		t.Errorf("no object_type means lead: %v", m)
	}

	// list: newest first, _limit, _skip, has_more.
	code, l, _ := e.do("GET", "/api/v1/bulk_action/delete/?_limit=2", nil)
	data := l["data"].([]any)
	if code != 200 || len(data) != 2 || l["has_more"] != true || data[1].(map[string]any)["bulk_object_type"] != "contact" {
		t.Errorf("list: %d %v", code, l)
	}
	code, l, _ = e.do("GET", "/api/v1/bulk_action/delete/?_skip=2", nil)
	data = l["data"].([]any)
	if code != 200 || len(data) != 1 || l["has_more"] != false || data[0].(map[string]any)["id"] != id {
		t.Errorf("list skip: %d %v", code, l)
	}
	code, l, _ = e.do("GET", "/api/v1/bulk_action/delete/"+id+"/?_fields=id,status", nil)
	if code != 200 || len(l) != 2 || l["status"] != "created" {
		t.Errorf("get with _fields: %d %v", code, l)
	}

	bad := []struct{ name, body, key, want string }{
		{"no s_query", `{"results_limit":null}`, "s_query", "This field is required."},
		{"null s_query", `{"s_query":null}`, "s_query", "This field is required."},
		{"s_query not an object", `{"s_query":"lead_status:Potential"}`, "s_query", "Input should be a valid dictionary"},
		{"s_query wrapper", `{"s_query":{"query":{"type":"match_all"},"results_limit":null,"sort":[]}}`, "s_query", ""},
		{"bad results_limit", `{"s_query":{"type":"match_all"},"results_limit":"all"}`, "results_limit", "Input should be a valid integer"},
		{"bad sort", `{"s_query":{"type":"match_all"},"sort":{"direction":"asc"}}`, "sort", ""},
		{"bad send_done_email", `{"s_query":{"type":"match_all"},"send_done_email":"no"}`, "send_done_email", "Input should be a valid boolean"},
		{"object type mismatch", `{"s_query":` + contacts() + `,"bulk_object_type":"lead"}`, "bulk_object_type", "must match"},
		{"unknown construct", `{"s_query":` + leads(`{"type":"geo"}`) + `}`, "s_query", `unknown query type "geo" at /queries/1`},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			msg := e.fieldErr("POST", "/api/v1/bulk_action/delete/", c.body, c.key)
			if !strings.Contains(msg, c.want) {
				t.Errorf("%q does not contain %q", msg, c.want)
			}
		})
	}
	e.t = t
	if n := len(e.s.Jobs()); n != 3 {
		t.Errorf("%d jobs after rejected creates, want 3", n)
	}
}

func TestJobLifecycle(t *testing.T) {
	e, ids := evalOrg(t)
	e.s.opts.BatchSize = 1
	e.gate()
	acmeContacts := e.leadContacts(ids.acme)
	m := e.create(`{"s_query":` + leads(fc("lead", "name", text("full_words", "acme"))) + `}`)
	id := m["id"].(string)

	// A lead added before processing starts is part of the match set.
	late := e.s.AddLead(LeadSpec{Name: "Acme Late"})
	e.step() // created → loading
	if m = e.job(id); m["status"] != "loading" || m["n_objects"] != nil {
		t.Fatalf("loading: %v", m)
	}
	e.step() // loading → processing: the match set is fixed
	m = e.job(id)
	if m["status"] != "processing" || m["n_objects"] != 3.0 || m["n_leads"] != 3.0 || m["n_objects_processed"] != 0.0 {
		t.Fatalf("after fixing: %v", m)
	}
	// One added now is not.
	later := e.s.AddLead(LeadSpec{Name: "Acme Later"})
	e.step() // first batch (of 1)
	m = e.job(id)
	if m["n_objects_processed"] != 1.0 || m["n_leads_processed"] != 1.0 || e.s.HasLead(ids.acme) || !e.s.HasLead(ids.acmeInc) {
		t.Fatalf("after one batch: %v", m)
	}
	for _, c := range acmeContacts {
		if e.s.HasContact(c) {
			t.Errorf("contact %s of a deleted lead survived", c)
		}
	}

	// pause: the runner stops deleting.
	if code, m := e.setStatus(id, "paused"); code != 200 || m["status"] != "paused" {
		t.Fatalf("pause: %d %v", code, m)
	}
	if code, m := e.setStatus(id, "paused"); code != 200 || m["status"] != "paused" {
		t.Fatalf("pause twice: %d %v", code, m)
	}
	e.step() // the runner sees the pause and waits
	if m = e.job(id); m["n_objects_processed"] != 1.0 || !e.s.HasLead(ids.acmeInc) {
		t.Fatalf("paused job went on deleting: %v", m)
	}
	// PUT without status changes nothing (partial update).
	if code, m, _ := e.do("PUT", "/api/v1/bulk_action/delete/"+id+"/", `{}`); code != 200 || m["status"] != "paused" {
		t.Errorf("empty PUT: %d %v", code, m)
	}
	// resume within 7 days
	e.clk.Advance(6 * day)
	if code, m := e.setStatus(id, "resuming"); code != 200 || m["status"] != "resuming" || m["date_updated"] != "2026-12-06T12:00:00.000000+00:00" {
		t.Fatalf("resume: %d %v", code, m)
	}
	if code, _ := e.setStatus(id, "resuming"); code != 400 {
		t.Errorf("resuming a job that is not paused: %d", code)
	}
	e.step() // resuming → processing
	if m = e.job(id); m["status"] != "processing" || m["n_objects"] != 3.0 {
		t.Fatalf("after resume: %v", m)
	}
	e.step()
	e.step()
	m = e.job(id)
	if m["status"] != "done" || m["n_objects_processed"] != 3.0 || m["n_leads_processed"] != 3.0 {
		t.Fatalf("finished: %v", m)
	}
	if e.s.HasLead(ids.acmeInc) || e.s.HasLead(late) || !e.s.HasLead(later) || !e.s.HasLead(ids.globex) {
		t.Errorf("wrong leads deleted: late %v later %v", e.s.HasLead(late), e.s.HasLead(later))
	}
	if code, m := e.setStatus(id, "paused"); code != 400 || !strings.Contains(m["field-errors"].(map[string]any)["status"].(string), "cannot be paused") {
		t.Errorf("pausing a done job: %d %v", code, m)
	}
	if code, _ := e.setStatus(id, "cancelled"); code != 400 {
		t.Errorf("unknown status: %d", code)
	}
	if code, _ := e.setStatus("bulkdelete_nope", "paused"); code != 404 {
		t.Errorf("missing job: %d", code)
	}

	// More than 7 days paused: resume is refused and the job stays paused.
	m = e.create(`{"s_query":` + leads(fc("lead", "name", text("exact_value", "test"))) + `}`)
	id2 := m["id"].(string)
	if code, m := e.setStatus(id2, "paused"); code != 200 || m["status"] != "paused" || m["n_objects"] != nil {
		t.Fatalf("pause before processing: %d %v", code, m)
	}
	e.step()
	e.clk.Advance(7*day + time.Second)
	code, m2 := e.setStatus(id2, "resuming")
	if code != 400 || m2["field-errors"].(map[string]any)["status"] != "A bulk action paused for more than 7 days cannot be resumed." {
		t.Fatalf("resume after 7 days: %d %v", code, m2)
	}
	if m = e.job(id2); m["status"] != "paused" || !e.s.HasLead(ids.test) {
		t.Errorf("after a refused resume: %v", m)
	}
}

func (e *env) leadContacts(id string) []string {
	_, m, _ := e.do("GET", "/api/v1/lead/"+id+"/", nil)
	var out []string
	for _, c := range m["contacts"].([]any) {
		out = append(out, c.(map[string]any)["id"].(string))
	}
	return out
}

func TestJobsRunToCompletion(t *testing.T) {
	e, ids := evalOrg(t)
	sortNewest := `[{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"}}]`
	cases := []struct {
		name     string
		body     string
		objects  float64
		leads    float64
		gone     []string
		contacts int // contacts left in the org
	}{
		{"results_limit and sort pick the newest two", `{"s_query":` + leads() + `,"results_limit":2,"sort":` + sortNewest + `}`, 2, 2, []string{ids.test, ids.acmeInc}, 4},
		{"contact delete removes contacts, not leads", `{"s_query":` + contacts(fc("contact", "title", text("exact_value", "ceo"))) + `}`, 2, 2, nil, 2},
		{"nothing matches", `{"s_query":` + leads(fc("lead", "name", text("exact_value", "nobody"))) + `}`, 0, 0, nil, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			before := e.s.NumLeads()
			m := e.create(c.body)
			m = e.waitJob(m["id"].(string), "done")
			if m["n_objects"] != c.objects || m["n_objects_processed"] != c.objects || m["n_leads"] != c.leads || m["n_leads_processed"] != c.leads {
				t.Errorf("done job: %v", m)
			}
			for _, id := range c.gone {
				if e.s.HasLead(id) {
					t.Errorf("lead %s survived", id)
				}
			}
			if got := e.s.NumLeads(); got != before-len(c.gone) {
				t.Errorf("%d leads left, want %d", got, before-len(c.gone))
			}
			if got := e.s.NumContacts(); got != c.contacts {
				t.Errorf("%d contacts left, want %d", got, c.contacts)
			}
		})
	}
	e.t = t
	// Acme Incorporated went with the first job, its contact Jane with it;
	// Hank (CEO) went with the second, his lead Globex stayed.
	if !e.s.HasLead(ids.globex) || e.s.HasLead(ids.acmeInc) {
		t.Error("wrong leads left")
	}
}

func TestJobUsesTheRateAndBatches(t *testing.T) {
	e := newEnv(t, Options{Leads: 300, DeleteRate: 100_000, BatchSize: 7})
	m := e.create(`{"s_query":{"type":"match_all"}}`)
	m = e.waitJob(m["id"].(string), "done")
	if m["n_objects_processed"] != 300.0 || e.s.NumLeads() != 0 || e.s.NumContacts() != 0 {
		t.Errorf("after deleting everything: %v, %d leads, %d contacts", m, e.s.NumLeads(), e.s.NumContacts())
	}
	// date_updated comes from the sandbox clock, which this test holds still.
	if got := fmt.Sprint(m["date_updated"]); got != "2026-11-30T12:00:00.000000+00:00" {
		t.Errorf("date_updated %s", got)
	}
}
