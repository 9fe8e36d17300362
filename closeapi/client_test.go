package closeapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

const testQuery = `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}}]}`
const testSort = `[{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"}}]`

// TestEndpoints checks every method's request (method, path with trailing slash, query, body,
// auth, User-Agent, x-tz-offset) and that its answer is decoded.
func TestEndpoints(t *testing.T) {
	created := string(readFixture(t, "bulkdelete-created.json"))
	done := string(readFixture(t, "bulkdelete-done-no-offset.json"))
	smartView := `{"id":"save_abc123","name":"Stale leads","type":"lead","s_query":{"query":{"type":"match_all"},"results_limit":null,"sort":[]},"query":null,"is_shared":true,"is_user_dependent":false,"organization_id":"orga_x","user_id":"user_x","description":null,"date_created":"2024-01-02T03:04:05.000000+00:00","date_updated":"2024-01-02T03:04:05.000000+00:00"}`
	legacyView := `{"id":"save_old1","name":"Old","type":"lead","s_query":null,"query":"*","is_shared":false,"is_user_dependent":null,"organization_id":"orga_x","user_id":null,"description":null,"date_created":"2013-01-01T00:00:00+00:00","date_updated":"2013-01-01T00:00:00+00:00"}`

	tests := []struct {
		name      string
		call      func(ctx context.Context, c *Client) (any, error)
		reply     string
		wantMeth  string
		wantPath  string
		wantQuery url.Values // nil: no query string
		wantBody  string     // "": no body
		check     func(t *testing.T, got any)
	}{
		{
			name: "create bulk delete with every field",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(testQuery), ResultsLimit: ptr(42),
					Sort: json.RawMessage(testSort), SendDoneEmail: ptr(false)})
			},
			reply:    created,
			wantMeth: "POST", wantPath: "/api/v1/bulk_action/delete/",
			wantBody: `{"s_query":` + testQuery + `,"results_limit":42,"sort":` + testSort + `,"send_done_email":false}`,
			check: func(t *testing.T, got any) {
				b := got.(*BulkDelete)
				if b.ID != "bulkdelete_asdVYCm54A0El829k39e7nIvlCSDDhVLuyb8aspGSET" || b.StatusString() != "created" || b.NLeads != nil {
					t.Errorf("decoded %+v", b)
				}
			},
		},
		{
			name: "create bulk delete minimal: results_limit null, no sort, no send_done_email",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(testQuery)})
			},
			reply:    created,
			wantMeth: "POST", wantPath: "/api/v1/bulk_action/delete/",
			wantBody: `{"s_query":` + testQuery + `,"results_limit":null}`,
		},
		{
			name:     "list bulk deletes with limit and skip",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.ListBulkDeletes(ctx, 10, 20) },
			reply:    `{"data":[` + created + `,` + done + `],"has_more":true}`,
			wantMeth: "GET", wantPath: "/api/v1/bulk_action/delete/",
			wantQuery: url.Values{"_limit": {"10"}, "_skip": {"20"}},
			check: func(t *testing.T, got any) {
				l := got.(*BulkDeleteList)
				if len(l.Data) != 2 || !l.HasMore || l.Data[1].StatusString() != "done" || *l.Data[1].NObjects != 77 {
					t.Errorf("decoded %+v", l)
				}
			},
		},
		{
			name:     "list bulk deletes with Close's default page size",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.ListBulkDeletes(ctx, 0, 0) },
			reply:    `{"data":[],"has_more":false}`,
			wantMeth: "GET", wantPath: "/api/v1/bulk_action/delete/",
			wantQuery: url.Values{"_skip": {"0"}},
		},
		{
			name:     "get bulk delete",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.GetBulkDelete(ctx, "bulkdelete_abc123") },
			reply:    done,
			wantMeth: "GET", wantPath: "/api/v1/bulk_action/delete/bulkdelete_abc123/",
			check: func(t *testing.T, got any) {
				if got.(*BulkDelete).NLeadsProcessed != 77 {
					t.Errorf("decoded %+v", got)
				}
			},
		},
		{
			name: "pause bulk delete",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SetBulkDeleteStatus(ctx, "bulkdelete_abc123", StatusPaused)
			},
			reply:    strings.Replace(created, `"status": "created"`, `"status": "paused"`, 1),
			wantMeth: "PUT", wantPath: "/api/v1/bulk_action/delete/bulkdelete_abc123/",
			wantBody: `{"status":"paused"}`,
			check: func(t *testing.T, got any) {
				if got.(*BulkDelete).StatusString() != "paused" {
					t.Errorf("decoded %+v", got)
				}
			},
		},
		{
			name: "resume bulk delete",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.SetBulkDeleteStatus(ctx, "bulkdelete_abc123", StatusResuming)
			},
			reply:    created,
			wantMeth: "PUT", wantPath: "/api/v1/bulk_action/delete/bulkdelete_abc123/",
			wantBody: `{"status":"resuming"}`,
		},
		{
			name: "search with cursor, fields and counts",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Search(ctx, SearchRequest{Query: json.RawMessage(testQuery), Sort: json.RawMessage(testSort),
					ResultsLimit: ptr(500), Limit: 200, Cursor: ptr("abc"), IncludeCounts: true,
					Fields: map[string][]string{"lead": {"id", "display_name"}}})
			},
			reply:    `{"data":[{"__object_type":"lead","id":"lead_1","display_name":"A"}],"cursor":"next1","count":{"total":900,"limited":500}}`,
			wantMeth: "POST", wantPath: "/api/v1/data/search/",
			wantBody: `{"query":` + testQuery + `,"sort":` + testSort + `,"results_limit":500,"_limit":200,"cursor":"abc","include_counts":true,"_fields":{"lead":["id","display_name"]}}`,
			check: func(t *testing.T, got any) {
				r := got.(*SearchResponse)
				if len(r.Data) != 1 || r.Cursor == nil || *r.Cursor != "next1" || r.Count == nil || r.Count.Total != 900 || r.Count.Limited != 500 {
					t.Errorf("decoded %+v", r)
				}
			},
		},
		{
			name: "count with sort",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Count(ctx, json.RawMessage(testQuery), json.RawMessage(testSort))
			},
			reply:    string(readFixture(t, "03-data-search-docs-count-response.json")),
			wantMeth: "POST", wantPath: "/api/v1/data/search/",
			wantBody: `{"query":` + testQuery + `,"sort":` + testSort + `,"results_limit":0,"include_counts":true}`,
			check: func(t *testing.T, got any) {
				if got.(Count) != (Count{Total: 3, Limited: 0}) {
					t.Errorf("count %+v", got)
				}
			},
		},
		{
			name: "count and sample",
			call: func(ctx context.Context, c *Client) (any, error) {
				cnt, items, err := c.CountAndSample(ctx, json.RawMessage(testQuery), json.RawMessage(testSort), "lead", 3)
				return []any{cnt, items}, err
			},
			reply:    `{"data":[{"__object_type":"lead","id":"lead_1","display_name":"ACME Inc.","status_label":"Potential","date_created":"2024-01-02T03:04:05+00:00"},{"__object_type":"lead","id":"lead_2","display_name":"ACME Inc. (2)"}],"cursor":null,"count":{"total":2,"limited":2}}`,
			wantMeth: "POST", wantPath: "/api/v1/data/search/",
			wantBody: `{"query":` + testQuery + `,"sort":` + testSort + `,"results_limit":3,"_limit":3,"include_counts":true,"_fields":{"lead":["id","display_name","name","status_label","date_created"]}}`,
			check: func(t *testing.T, got any) {
				g := got.([]any)
				want := []SampleItem{{ID: "lead_1", DisplayName: "ACME Inc.", Status: "Potential", DateCreated: "2024-01-02T03:04:05+00:00"}, {ID: "lead_2", DisplayName: "ACME Inc. (2)"}}
				if g[0].(Count) != (Count{2, 2}) || !reflect.DeepEqual(g[1], want) {
					t.Errorf("got %+v", g)
				}
			},
		},
		{
			name: "count and sample with n 0 is a count",
			call: func(ctx context.Context, c *Client) (any, error) {
				cnt, items, err := c.CountAndSample(ctx, json.RawMessage(testQuery), nil, "lead", 0)
				if items != nil {
					t.Errorf("items %v", items)
				}
				return cnt, err
			},
			reply:    `{"data":[],"count":{"limited":0,"total":12}}`,
			wantMeth: "POST", wantPath: "/api/v1/data/search/",
			wantBody: `{"query":` + testQuery + `,"results_limit":0,"include_counts":true}`,
		},
		{
			name: "sample of contacts falls back to name",
			call: func(ctx context.Context, c *Client) (any, error) {
				return c.Sample(ctx, json.RawMessage(`{"type":"object_type","object_type":"contact"}`), nil, "contact", 2)
			},
			reply:    string(readFixture(t, "01-data-search-docs-example-response.json")),
			wantMeth: "POST", wantPath: "/api/v1/data/search/",
			wantBody: `{"query":{"type":"object_type","object_type":"contact"},"results_limit":2,"_limit":2,"_fields":{"contact":["id","display_name","name","lead_id","date_created"]}}`,
			check: func(t *testing.T, got any) {
				want := []SampleItem{{ID: "cont_HjTcJFiNli2AKf5fioygQDVSpA9nJILI9SkKv3nBk0A", DisplayName: "Bruce Wayne"}, {ID: "cont_LXQqW8mvD0BbCR6qhRPbzPZF7gCbXQIw6GD8vqKipss", DisplayName: "Steli Efti"}}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name:     "lead statuses",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.LeadStatuses(ctx) },
			reply:    `{"data":[{"id":"stat_1","label":"Potential","organization_id":"orga_x"},{"id":"stat_2","label":"Bad Fit"}]}`,
			wantMeth: "GET", wantPath: "/api/v1/status/lead/",
			check: func(t *testing.T, got any) {
				if !reflect.DeepEqual(got, []LeadStatus{{"stat_1", "Potential"}, {"stat_2", "Bad Fit"}}) {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name:     "lead custom fields",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.LeadCustomFields(ctx) },
			reply:    `{"data":[{"accepts_multiple_values":false,"choices":null,"id":"cf_a","name":"# of users","type":"number","description":"The number of users"},{"accepts_multiple_values":true,"choices":["Apparel","Cars"],"id":"cf_b","name":"Industry","type":"choices","description":null}],"has_more":false}`,
			wantMeth: "GET", wantPath: "/api/v1/custom_field/lead/",
			wantQuery: url.Values{"_limit": {"100"}, "_skip": {"0"}},
			check: func(t *testing.T, got any) {
				f := got.([]CustomField)
				if len(f) != 2 || f[0].Choices != nil || f[0].Type != "number" || !f[1].AcceptsMultipleValues ||
					!reflect.DeepEqual(f[1].Choices, []string{"Apparel", "Cars"}) || f[1].Description != nil {
					t.Errorf("got %+v", f)
				}
			},
		},
		{
			name:     "smart views",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.SmartViews(ctx) },
			reply:    `{"data":[` + smartView + `,` + legacyView + `],"has_more":false}`,
			wantMeth: "GET", wantPath: "/api/v1/saved_search/",
			wantQuery: url.Values{"_limit": {"100"}, "_skip": {"0"}},
			check: func(t *testing.T, got any) {
				v := got.([]SmartView)
				if len(v) != 2 || len(v[0].SQuery) == 0 || v[1].SQuery != nil || *v[1].Query != "*" || v[1].IsUserDependent != nil {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name:     "smart views of type contact",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.SmartViewsOfType(ctx, "contact") },
			reply:    `{"data":[],"has_more":false}`,
			wantMeth: "GET", wantPath: "/api/v1/saved_search/",
			wantQuery: url.Values{"_limit": {"100"}, "_skip": {"0"}, "type": {"contact"}},
		},
		{
			name:     "smart view",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.SmartView(ctx, "save_abc123") },
			reply:    smartView,
			wantMeth: "GET", wantPath: "/api/v1/saved_search/save_abc123/",
			check: func(t *testing.T, got any) {
				v := got.(*SmartView)
				if !jsonEqual(t, v.SQuery, []byte(`{"query":{"type":"match_all"},"results_limit":null,"sort":[]}`)) ||
					v.IsUserDependent == nil || *v.IsUserDependent || !v.IsShared || v.DateCreated == nil {
					t.Errorf("got %+v", v)
				}
			},
		},
		{
			name:     "users",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Users(ctx) },
			reply:    `{"has_more":false,"data":[{"id":"user_1","email":"stefan@close.io","first_name":"Stefan","last_name":"Wojcik","organizations":["orga_a","orga_b"]},{"id":"user_2","email":"x@y.z","first_name":null,"last_name":null,"organizations":[]}]}`,
			wantMeth: "GET", wantPath: "/api/v1/user/",
			wantQuery: url.Values{"_limit": {"100"}, "_skip": {"0"}},
			check: func(t *testing.T, got any) {
				want := []User{
					{ID: "user_1", FirstName: "Stefan", LastName: "Wojcik", Email: "stefan@close.io", DisplayName: "Stefan Wojcik", OrganizationIDs: []string{"orga_a", "orga_b"}},
					{ID: "user_2", Email: "x@y.z", DisplayName: "x@y.z"},
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("got %+v", got)
				}
			},
		},
		{
			name:     "me",
			call:     func(ctx context.Context, c *Client) (any, error) { return c.Me(ctx) },
			reply:    `{"id":"user_me","email":"anthony@close.com","first_name":"Anthony","last_name":"Nemitz","organizations":[{"id":"orga_RbR","name":"Close"}],"date_created":"2012-08-29T13:46:31.870000+00:00"}`,
			wantMeth: "GET", wantPath: "/api/v1/me/",
			check: func(t *testing.T, got any) {
				u := got.(*User)
				if u.ID != "user_me" || u.DisplayName != "Anthony Nemitz" || !reflect.DeepEqual(u.OrganizationIDs, []string{"orga_RbR"}) {
					t.Errorf("got %+v", u)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { jsonReply(w, 200, tt.reply) })
			c, _ := testClient(t, f.base(), nil)
			got, err := tt.call(context.Background(), c)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			reqs := f.requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tt.wantMeth || r.Path != tt.wantPath {
				t.Errorf("request %s %s, want %s %s", r.Method, r.Path, tt.wantMeth, tt.wantPath)
			}
			if !strings.HasSuffix(r.Path, "/") {
				t.Errorf("path %s lacks the trailing slash", r.Path)
			}
			q, _ := url.ParseQuery(r.RawQuery)
			if len(q) == 0 {
				q = nil
			}
			if !reflect.DeepEqual(q, tt.wantQuery) {
				t.Errorf("query %v, want %v", q, tt.wantQuery)
			}
			if got, want := r.Header.Get("Authorization"), basicFor(testKey); got != want {
				t.Errorf("Authorization %q, want %q", got, want)
			}
			if ua := r.Header.Get("User-Agent"); ua != "bulkguard/test" {
				t.Errorf("User-Agent %q", ua)
			}
			if tz := r.Header.Get("X-Tz-Offset"); tz != "-4" {
				t.Errorf("x-tz-offset %q", tz)
			}
			if a := r.Header.Get("Accept"); a != "application/json" {
				t.Errorf("Accept %q", a)
			}
			if tt.wantBody == "" {
				if len(r.Body) != 0 {
					t.Errorf("unexpected body %s", r.Body)
				}
			} else {
				if ct := r.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type %q", ct)
				}
				if !jsonEqual(t, r.Body, []byte(tt.wantBody)) {
					t.Errorf("body\n got %s\nwant %s", r.Body, tt.wantBody)
				}
			}
			if tt.check != nil {
				tt.check(t, got)
			}
		})
	}
}

func TestBearerAuth(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { jsonReply(w, 200, `{"id":"user_1"}`) })
	c, err := New(Options{BaseURL: f.base() + "/", APIKey: "ignored-key", BearerToken: "oauth-token-xyz"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Me(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := f.requests()[0]
	if got := r.Header.Get("Authorization"); got != "Bearer oauth-token-xyz" {
		t.Errorf("Authorization %q", got)
	}
	if ua := r.Header.Get("User-Agent"); ua != "bulkguard/dev" {
		t.Errorf("default User-Agent %q", ua)
	}
	if _, ok := r.Header["X-Tz-Offset"]; ok {
		t.Error("x-tz-offset sent although not configured")
	}
	if r.Path != "/api/v1/me/" {
		t.Errorf("path %q (base URL trailing slash not trimmed?)", r.Path)
	}
	if c.Principal() != fingerprint("oauth-token-xyz") {
		t.Error("principal is not the bearer token's fingerprint")
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
		base    string
	}{
		{"default base URL", Options{APIKey: "k"}, "", DefaultBaseURL},
		{"trailing slash trimmed", Options{APIKey: "k", BaseURL: "http://localhost:8080/api/v1/"}, "", "http://localhost:8080/api/v1"},
		{"no credential", Options{}, "no credential", ""},
		{"relative base URL", Options{APIKey: "k", BaseURL: "/api/v1"}, "absolute http(s) URL", ""},
		{"ftp base URL", Options{APIKey: "k", BaseURL: "ftp://x/api"}, "absolute http(s) URL", ""},
		{"user info in base URL", Options{APIKey: "k", BaseURL: "https://secretkey:@api.close.com/api/v1"}, "user info", ""},
		{"query in base URL", Options{APIKey: "k", BaseURL: "https://api.close.com/api/v1?x=1"}, "query", ""},
		{"bad tz offset", Options{APIKey: "k", TZOffset: "CET"}, "TZOffset", ""},
		{"tz offset out of range", Options{APIKey: "k", TZOffset: "-20"}, "TZOffset", ""},
		{"half-hour tz offset", Options{APIKey: "k", TZOffset: "-2.5"}, "", DefaultBaseURL},
		{"line break in key", Options{APIKey: "k\r\nX-Evil: 1"}, "line break", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "secretkey") {
					t.Errorf("error quotes the user info: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL() != tt.base {
				t.Errorf("BaseURL %q, want %q", c.BaseURL(), tt.base)
			}
			if c.maxAttempts != 4 || c.budget.Seconds() != 30 || c.hc.Timeout == 0 {
				t.Errorf("defaults: attempts %d budget %s timeout %s", c.maxAttempts, c.budget, c.hc.Timeout)
			}
		})
	}
}

func TestPrincipal(t *testing.T) {
	re := regexp.MustCompile(`^cred_[0-9a-f]{16}$`)
	a, _ := New(Options{APIKey: testKey})
	b, _ := New(Options{APIKey: testKey + "x"})
	a2, _ := New(Options{APIKey: testKey, BaseURL: "http://other/api/v1"})
	if !re.MatchString(a.Principal()) {
		t.Errorf("principal %q", a.Principal())
	}
	// printf %s api_TESTKEY0123456789abcdef | sha256sum | cut -c1-16
	if a.Principal() != "cred_3c416df6efec5fec" {
		t.Errorf("principal %q", a.Principal())
	}
	if a.Principal() == b.Principal() {
		t.Error("different keys share a principal")
	}
	if a.Principal() != a2.Principal() {
		t.Error("the same key gives different principals")
	}
	if strings.Contains(a.Principal(), testKey[:8]) {
		t.Error("principal contains the key")
	}
}

// TestRedirectNotFollowed: Close redirects only for a missing trailing slash; a followed
// redirect would turn the create POST into a GET, so a 3xx is an error.
func TestRedirectNotFollowed(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		http.Redirect(w, r, "/elsewhere/", http.StatusMovedPermanently)
	})
	c, _ := testClient(t, f.base(), nil)
	_, err := c.CreateBulkDelete(context.Background(), BulkDeleteRequest{SQuery: json.RawMessage(testQuery)})
	var ae *APIError
	if !asAPIError(err, &ae) || ae.StatusCode != 301 {
		t.Fatalf("err %v", err)
	}
	if f.count() != 1 {
		t.Errorf("%d requests", f.count())
	}
}
