package sandbox_test

// Contract tests: every closeapi method against the sandbox over real
// HTTP, and the request/response examples of docs/close-api.md reproduced field
// for field. (package sandbox_test: the sandbox itself never imports
// closeapi.)

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/sandbox"
)

func contractEnv(t *testing.T, o sandbox.Options) (*sandbox.Server, *closeapi.Client) {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }
	}
	s, err := sandbox.New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	cl, err := closeapi.New(closeapi.Options{BaseURL: srv.URL + "/api/v1", APIKey: s.APIKey(), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s, cl
}

const acmeQuery = `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},` +
	`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},` +
	`"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}}]}`
const newestFirst = `[{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"}}]`

func TestContractLookups(t *testing.T) {
	s, cl := contractEnv(t, sandbox.Options{Leads: 500})
	ctx := context.Background()
	me, err := cl.Me(ctx)
	if err != nil || me.ID != s.UserID() || me.DisplayName != "Alex Morgan" || len(me.OrganizationIDs) != 1 {
		t.Fatalf("Me: %+v %v", me, err)
	}
	users, err := cl.Users(ctx)
	if err != nil || len(users) != 5 {
		t.Fatalf("Users: %d %v", len(users), err)
	}
	st, err := cl.LeadStatuses(ctx)
	if err != nil || len(st) != 5 || st[2].Label != "Bad Fit" {
		t.Fatalf("LeadStatuses: %+v %v", st, err)
	}
	cfs, err := cl.LeadCustomFields(ctx)
	if err != nil || len(cfs) != 6 || cfs[0].Name != "Industry" || len(cfs[0].Choices) == 0 {
		t.Fatalf("LeadCustomFields: %+v %v", cfs, err)
	}
	views, err := cl.SmartViews(ctx)
	if err != nil || len(views) < 5 {
		t.Fatalf("SmartViews: %d %v", len(views), err)
	}
	id, _ := s.SmartViewID("Bad Fit leads")
	v, err := cl.SmartView(ctx, id)
	if err != nil || v.Name != "Bad Fit leads" || v.SQuery == nil {
		t.Fatalf("SmartView: %+v %v", v, err)
	}
	var wrapper struct {
		Query        json.RawMessage `json:"query"`
		ResultsLimit *int            `json:"results_limit"`
		Sort         []any           `json:"sort"`
	}
	if err := json.Unmarshal(v.SQuery, &wrapper); err != nil || wrapper.Query == nil || wrapper.ResultsLimit != nil {
		t.Errorf("view s_query wrapper: %s", v.SQuery)
	}
	if _, err := cl.SmartView(ctx, "save_doesnotexist"); !closeapi.IsNotFound(err) {
		t.Errorf("missing view: %v", err)
	}
}

func TestContractSearch(t *testing.T) {
	s, cl := contractEnv(t, sandbox.Options{Leads: 2000})
	ctx := context.Background()
	// docs/close-api.md §2.3: {"query": …, "include_counts": true, "results_limit": 0}
	// → {"data": [], "count": {"limited": 0, "total": N}}
	cnt, err := cl.Count(ctx, json.RawMessage(acmeQuery), nil)
	if err != nil || cnt.Total == 0 || cnt.Limited != 0 {
		t.Fatalf("Count: %+v %v", cnt, err)
	}
	cnt2, items, err := cl.CountAndSample(ctx, json.RawMessage(acmeQuery), json.RawMessage(newestFirst), "lead", 3)
	if err != nil || cnt2.Total != cnt.Total || cnt2.Limited != 3 || len(items) != 3 {
		t.Fatalf("CountAndSample: %+v %d %v", cnt2, len(items), err)
	}
	for _, it := range items {
		if !strings.HasPrefix(it.ID, "lead_") || !strings.Contains(strings.ToLower(it.DisplayName), "acme") {
			t.Errorf("sample item %+v", it)
		}
	}
	sample, err := cl.Sample(ctx, json.RawMessage(acmeQuery), json.RawMessage(newestFirst), "lead", 3)
	if err != nil || !reflect.DeepEqual(sample, items) {
		t.Errorf("Sample differs from CountAndSample: %+v %v", sample, err)
	}
	// A sample larger than a page walks the cursor.
	all := json.RawMessage(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"}]}`)
	cnt3, big, err := cl.CountAndSample(ctx, all, nil, "lead", 450)
	if err != nil || cnt3.Total != 2000 || len(big) != 450 {
		t.Fatalf("big sample: %+v %d %v", cnt3, len(big), err)
	}
	resp, err := cl.Search(ctx, closeapi.SearchRequest{Query: all, Limit: 5, Fields: map[string][]string{"lead": {"id", "display_name", "status_label"}}})
	if err != nil || len(resp.Data) != 5 || resp.Cursor == nil || resp.Data[0]["__object_type"] != "lead" || resp.Data[0]["status_label"] == nil {
		t.Fatalf("Search: %+v %v", resp, err)
	}
	_, err = cl.Search(ctx, closeapi.SearchRequest{Query: json.RawMessage(`{"type":"geo"}`)})
	var apiErr *closeapi.APIError
	if !closeapi.IsValidation(err) || !asAPIError(err, &apiErr) || !strings.Contains(apiErr.FieldErrors["query"].(string), `unknown query type "geo"`) {
		t.Errorf("invalid query: %v", err)
	}
	_, err = cl.Search(ctx, closeapi.SearchRequest{Query: all, Limit: 201})
	if !closeapi.IsValidation(err) {
		t.Errorf("_limit 201: %v", err)
	}
	if s.Requests("POST", "/data/search/") == 0 {
		t.Error("Requests did not count searches")
	}
	bad, _ := closeapi.New(closeapi.Options{BaseURL: strings.TrimSuffix(cl.BaseURL(), "/"), APIKey: "wrong", MaxAttempts: 1})
	if _, err := bad.Me(ctx); !closeapi.IsUnauthorized(err) {
		t.Errorf("wrong key: %v", err)
	}
}

func asAPIError(err error, target **closeapi.APIError) bool {
	for err != nil {
		if e, ok := err.(*closeapi.APIError); ok {
			*target = e
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func TestContractBulkDelete(t *testing.T) {
	s, cl := contractEnv(t, sandbox.Options{Leads: 2000})
	ctx := context.Background()
	before, _ := cl.Count(ctx, json.RawMessage(acmeQuery), nil)

	// docs/close-api.md §1.2's request; §1.3's fresh-create fields.
	job, err := cl.CreateBulkDelete(ctx, closeapi.BulkDeleteRequest{SQuery: json.RawMessage(acmeQuery), Sort: json.RawMessage(newestFirst)})
	if err != nil {
		t.Fatal(err)
	}
	if job.StatusString() != "created" || job.NLeads != nil || job.NObjects != nil || job.NLeadsProcessed != 0 || job.NObjectsProcessed != 0 ||
		!job.SendDoneEmail || job.BulkObjectType != "lead" || job.Query != nil || job.ResultsLimit != nil ||
		job.CreatedBy == nil || *job.CreatedBy != s.UserID() || job.DateCreated == nil || !strings.HasPrefix(job.OrganizationID, "orga_") {
		t.Fatalf("created job: %+v", job)
	}
	if err := closeapi.ValidateBulkDeleteID(job.ID); err != nil {
		t.Fatal(err)
	}
	// Poll until done (§1.5), then the finished-job fields.
	deadline := time.Now().Add(20 * time.Second)
	for job.StatusString() != "done" {
		if time.Now().After(deadline) {
			t.Fatalf("job stuck: %+v", job)
		}
		time.Sleep(2 * time.Millisecond)
		if job, err = cl.GetBulkDelete(ctx, job.ID); err != nil {
			t.Fatal(err)
		}
	}
	if *job.NLeads != before.Total || job.NLeadsProcessed != before.Total || *job.NObjects != before.Total || job.NObjectsProcessed != before.Total {
		t.Errorf("done job %+v, previewed %d", job, before.Total)
	}
	if after, _ := cl.Count(ctx, json.RawMessage(acmeQuery), nil); after.Total != 0 {
		t.Errorf("%d ACME leads left", after.Total)
	}
	list, err := cl.ListBulkDeletes(ctx, 10, 0)
	if err != nil || len(list.Data) != 1 || list.HasMore || list.Data[0].ID != job.ID {
		t.Fatalf("ListBulkDeletes: %+v %v", list, err)
	}
	if _, err := cl.SetBulkDeleteStatus(ctx, job.ID, "paused"); !closeapi.IsValidation(err) {
		t.Errorf("pausing a done job: %v", err)
	}
	if _, err := cl.GetBulkDelete(ctx, "bulkdelete_doesnotexist"); !closeapi.IsNotFound(err) {
		t.Errorf("missing job: %v", err)
	}

	// Pause and resume through the client, on a slow job.
	s2, cl2 := contractEnv(t, sandbox.Options{Leads: 200, DeleteRate: 1, BatchSize: 1})
	slow, err := cl2.CreateBulkDelete(ctx, closeapi.BulkDeleteRequest{SQuery: json.RawMessage(`{"type":"match_all"}`)})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cl2.SetBulkDeleteStatus(ctx, slow.ID, "paused")
	if err != nil || p.StatusString() != "paused" {
		t.Fatalf("pause: %+v %v", p, err)
	}
	r, err := cl2.SetBulkDeleteStatus(ctx, slow.ID, "resuming")
	if err != nil || (r.StatusString() != "resuming" && r.StatusString() != "processing") {
		t.Fatalf("resume: %+v %v", r, err)
	}
	if _, err := cl2.SetBulkDeleteStatus(ctx, slow.ID, "paused"); err != nil {
		t.Fatal(err)
	}
	if j := s2.Jobs(); len(j) != 1 || j[0].Status != "paused" {
		t.Errorf("Jobs(): %+v", j)
	}
}

func TestContractAmbiguousCreate(t *testing.T) {
	s, cl := contractEnv(t, sandbox.Options{EmptyOrg: true, DropAfterCreate: 1})
	_, err := cl.CreateBulkDelete(context.Background(), closeapi.BulkDeleteRequest{SQuery: json.RawMessage(`{"type":"match_all"}`)})
	if err == nil || !closeapi.IsAmbiguous(err) {
		t.Fatalf("dropped create: %v (ambiguous %v)", err, closeapi.IsAmbiguous(err))
	}
	if n := len(s.Jobs()); n != 1 {
		t.Errorf("%d jobs after a dropped create, want 1", n)
	}
	if n := s.Requests("POST", "/bulk_action/delete/"); n != 1 {
		t.Errorf("the create was sent %d times; it must never be retried", n)
	}
}
