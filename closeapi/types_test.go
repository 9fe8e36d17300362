package closeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestTime(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		zero    bool
		wantErr bool
	}{
		{in: `"2015-03-16T00:19:50.141000+00:00"`, want: time.Date(2015, 3, 16, 0, 19, 50, 141000000, time.UTC)},
		{in: `"2021-05-24T13:20:57.060848"`, want: time.Date(2021, 5, 24, 13, 20, 57, 60848000, time.UTC)},
		{in: `"2024-06-01T10:00:00-04:00"`, want: time.Date(2024, 6, 1, 14, 0, 0, 0, time.UTC)},
		{in: `"2024-06-01T10:00:00Z"`, want: time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)},
		{in: `"2024-06-01T10:00:00"`, want: time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)},
		{in: `"2024-06-01 10:00:00.5+02:00"`, want: time.Date(2024, 6, 1, 8, 0, 0, 500000000, time.UTC)},
		{in: `null`, zero: true},
		{in: `""`, zero: true},
		{in: `"yesterday"`, wantErr: true},
		{in: `1700000000`, wantErr: true},
	}
	for _, tt := range tests {
		var got Time
		err := json.Unmarshal([]byte(tt.in), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v", tt.in, err)
			continue
		}
		if tt.wantErr {
			continue
		}
		if tt.zero != got.IsZero() || (!tt.zero && !got.Equal(tt.want)) {
			t.Errorf("%s: got %v, want %v", tt.in, got.Time, tt.want)
		}
	}
	// A pointer field: null leaves it nil.
	var s struct {
		D *Time `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"d":null}`), &s); err != nil || s.D != nil {
		t.Errorf("null into *Time: %v %v", s.D, err)
	}
	// Encoding is Close's own form.
	b, _ := json.Marshal(Time{time.Date(2015, 3, 16, 0, 19, 50, 141000000, time.UTC)})
	if string(b) != `"2015-03-16T00:19:50.141000+00:00"` {
		t.Errorf("marshal %s", b)
	}
	if b, _ := json.Marshal(Time{}); string(b) != "null" {
		t.Errorf("zero marshals as %s", b)
	}
}

// closeBulkDeleteFields are the 17 required properties of BulkDeleteAction in Close's OpenAPI
// (close-examples/08-openapi-bulk-action-schemas.yaml), with whether each may be null.
var closeBulkDeleteFields = map[string]bool{
	"bulk_object_type": false, "created_by": true, "date_created": true, "date_updated": true, "id": false,
	"n_leads": true, "n_leads_processed": false, "n_objects": true, "n_objects_processed": false,
	"organization_id": false, "query": true, "results_limit": true, "s_query": false,
	"send_done_email": false, "sort": false, "status": true, "updated_by": true,
}

func TestBulkDeleteHasEveryField(t *testing.T) {
	typ := reflect.TypeFor[BulkDelete]()
	got := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		// nullable in Go: a pointer (or a RawMessage, which keeps null as nil)
		got[name] = f.Type.Kind() == reflect.Pointer
	}
	if len(got) != 17 {
		t.Errorf("%d fields, want 17", len(got))
	}
	for name, nullable := range closeBulkDeleteFields {
		g, ok := got[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		if name == "s_query" || name == "sort" {
			continue // json.RawMessage: any JSON kept as sent
		}
		if g != nullable {
			t.Errorf("%s: pointer %v, Close nullable %v", name, g, nullable)
		}
	}
}

func TestBulkDeleteFixtures(t *testing.T) {
	t.Run("fresh job, dates with offset", func(t *testing.T) {
		raw := readFixture(t, "bulkdelete-created.json")
		var b BulkDelete
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		want := time.Date(2015, 3, 16, 0, 19, 50, 141000000, time.UTC)
		if b.StatusString() != "created" || b.BulkObjectType != "lead" || b.NLeads != nil || b.NObjects != nil ||
			b.ResultsLimit != nil || !b.SendDoneEmail || b.Query == nil || *b.Query != "lead_status:Potential" ||
			b.CreatedBy == nil || b.DateCreated == nil || !b.DateCreated.Equal(want) || !b.DateUpdated.Equal(want) {
			t.Errorf("decoded %+v", b)
		}
		// Every key survives a round trip, nulls included.
		out, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, out, raw) {
			t.Errorf("round trip\n got %s\nwant %s", out, raw)
		}
	})
	t.Run("finished job, date without offset, nulls", func(t *testing.T) {
		var b BulkDelete
		if err := json.Unmarshal(readFixture(t, "bulkdelete-done-no-offset.json"), &b); err != nil {
			t.Fatal(err)
		}
		if b.StatusString() != "done" || *b.NLeads != 77 || b.NLeadsProcessed != 77 || *b.NObjects != 77 || b.NObjectsProcessed != 77 ||
			*b.ResultsLimit != 77 || b.SendDoneEmail || b.Query != nil || b.CreatedBy != nil || b.UpdatedBy != nil ||
			b.DateUpdated != nil || !b.DateCreated.Equal(time.Date(2021, 5, 24, 13, 20, 57, 60848000, time.UTC)) ||
			string(b.Sort) != "[]" {
			t.Errorf("decoded %+v", b)
		}
	})
	t.Run("null status and s_query", func(t *testing.T) {
		var b BulkDelete
		if err := json.Unmarshal([]byte(`{"id":"bulkdelete_x","status":null,"s_query":null,"sort":null}`), &b); err != nil {
			t.Fatal(err)
		}
		if b.Status != nil || b.StatusString() != "" || b.SQuery != nil || b.Sort != nil {
			t.Errorf("decoded %+v", b)
		}
	})
	t.Run("third-party mock with a status outside the enum", func(t *testing.T) {
		var b BulkDelete
		if err := json.Unmarshal(readFixture(t, "11-bulk-action-get-mock.json"), &b); err != nil {
			t.Fatal(err)
		}
		if b.ID != "bulkact_1" || b.StatusString() != "complete" {
			t.Errorf("decoded %+v", b)
		}
	})
}

// TestSearchFixtures parses Close's documented /data/search/ answers and mocks.
func TestSearchFixtures(t *testing.T) {
	tests := []struct {
		file     string
		rows     int
		cursor   bool // a "cursor" key with a string value
		count    *Count
		objType  string
		firstKey string
	}{
		{file: "01-data-search-docs-example-response.json", rows: 2, objType: "contact", firstKey: "title"},
		{file: "03-data-search-docs-count-response.json", rows: 0, count: &Count{Total: 3, Limited: 0}},
		{file: "04-data-search-mock-arcade-test.json", rows: 3, objType: "lead"},
		{file: "05-data-search-mock-pytest-fake-response.json", rows: 1, objType: "lead"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			var r SearchResponse
			if err := json.Unmarshal(readFixture(t, tt.file), &r); err != nil {
				t.Fatal(err)
			}
			if len(r.Data) != tt.rows || (r.Cursor != nil) != tt.cursor || !reflect.DeepEqual(r.Count, tt.count) {
				t.Errorf("decoded %+v", r)
			}
			if tt.rows > 0 && r.Data[0]["__object_type"] != tt.objType {
				t.Errorf("object type %v", r.Data[0]["__object_type"])
			}
			if tt.firstKey != "" && r.Data[0][tt.firstKey] == nil {
				t.Errorf("row lacks %s", tt.firstKey)
			}
		})
	}
}

// TestCountMatchesDocumentedRequest: Count sends exactly the documented count-only body.
func TestCountMatchesDocumentedRequest(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		_, _ = w.Write(readFixture(t, "03-data-search-docs-count-response.json"))
	})
	c, _ := testClient(t, f.base(), nil)
	cnt, err := c.Count(context.Background(), json.RawMessage(`{}`), nil)
	if err != nil || cnt.Total != 3 {
		t.Fatalf("count %v err %v", cnt, err)
	}
	if got := f.requests()[0].Body; !jsonEqual(t, got, readFixture(t, "03-data-search-docs-count-request.json")) {
		t.Errorf("body %s", got)
	}
}

func TestCountWithoutCountIsAnError(t *testing.T) {
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		_, _ = w.Write(readFixture(t, "04-data-search-mock-arcade-test.json"))
	})
	c, _ := testClient(t, f.base(), nil)
	if _, err := c.Count(context.Background(), json.RawMessage(testQuery), nil); err == nil || !strings.Contains(err.Error(), "no count") {
		t.Errorf("err %v", err)
	}
	if _, _, err := c.CountAndSample(context.Background(), json.RawMessage(testQuery), nil, "lead", 2); err == nil {
		t.Error("CountAndSample accepted an answer without count")
	}
}

func TestSampleItem(t *testing.T) {
	tests := []struct {
		row  string
		want SampleItem
		ok   bool
	}{
		{`{"id":"lead_1","display_name":"ACME","name":"acme"}`, SampleItem{ID: "lead_1", DisplayName: "ACME"}, true},
		{`{"id":"cont_1","name":"Bruce Wayne"}`, SampleItem{ID: "cont_1", DisplayName: "Bruce Wayne"}, true},
		{`{"id":"cont_2","display_name":"","name":"Steli"}`, SampleItem{ID: "cont_2", DisplayName: "Steli"}, true},
		{`{"id":"cont_3","display_name":null,"name":null}`, SampleItem{ID: "cont_3", DisplayName: "cont_3"}, true},
		{`{"__object_type":"lead","id":"lead_9"}`, SampleItem{ID: "lead_9", DisplayName: "lead_9"}, true},
		{`{"id":"lead_2","display_name":"B","status_label":"Bad Fit","date_created":"2024-05-06T07:08:09.123000+00:00"}`, SampleItem{ID: "lead_2", DisplayName: "B", Status: "Bad Fit", DateCreated: "2024-05-06T07:08:09.123000+00:00"}, true},
		{`{"id":"cont_4","name":"C","lead_id":"lead_7","date_created":"2024-01-01T00:00:00+00:00"}`, SampleItem{ID: "cont_4", DisplayName: "C", LeadID: "lead_7", DateCreated: "2024-01-01T00:00:00+00:00"}, true},
		{`{"display_name":"no id"}`, SampleItem{}, false},
	}
	for _, tt := range tests {
		var row map[string]any
		if err := json.Unmarshal([]byte(tt.row), &row); err != nil {
			t.Fatal(err)
		}
		got, ok := sampleItem(row)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %v %v", tt.row, got, ok)
		}
	}
}

// TestSampleFollowsCursor: a sample larger than one page continues with the cursor, sending
// the same query and sort, and stops at n.
func TestSampleFollowsCursor(t *testing.T) {
	rows := func(from, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"__object_type":"lead","id":"lead_%d","display_name":"Lead %d"}`, from+i, from+i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		switch n {
		case 1:
			jsonReply(w, 200, `{"data":`+rows(0, 200)+`,"cursor":"c1","count":{"total":1000,"limited":250}}`)
		default:
			jsonReply(w, 200, `{"data":`+rows(200, 60)+`,"cursor":"c2"}`)
		}
	})
	c, _ := testClient(t, f.base(), nil)
	cnt, items, err := c.CountAndSample(context.Background(), json.RawMessage(testQuery), json.RawMessage(testSort), "lead", 250)
	if err != nil {
		t.Fatal(err)
	}
	if cnt != (Count{1000, 250}) || len(items) != 250 || items[249].ID != "lead_249" {
		t.Errorf("count %v, %d items", cnt, len(items))
	}
	reqs := f.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	want := []string{
		`{"query":` + testQuery + `,"sort":` + testSort + `,"results_limit":250,"_limit":200,"include_counts":true,"_fields":{"lead":["id","display_name","name","status_label","date_created"]}}`,
		`{"query":` + testQuery + `,"sort":` + testSort + `,"results_limit":250,"_limit":50,"cursor":"c1","_fields":{"lead":["id","display_name","name","status_label","date_created"]}}`,
	}
	for i, w := range want {
		if !jsonEqual(t, reqs[i].Body, []byte(w)) {
			t.Errorf("request %d body\n got %s\nwant %s", i+1, reqs[i].Body, w)
		}
	}
}

// TestPaging follows _skip/_limit pages until has_more is false.
func TestPaging(t *testing.T) {
	views := func(from, n int) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"id":"save_%d","name":"v%d","type":"lead","s_query":null,"query":"*"}`, from+i, from+i)
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
		skip := r.URL.Query().Get("_skip")
		switch skip {
		case "0":
			jsonReply(w, 200, `{"data":`+views(0, 100)+`,"has_more":true}`)
		case "100":
			jsonReply(w, 200, `{"data":`+views(100, 100)+`,"has_more":true}`)
		default:
			jsonReply(w, 200, `{"data":`+views(200, 5)+`,"has_more":false}`)
		}
	})
	c, _ := testClient(t, f.base(), nil)
	got, err := c.SmartViews(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 205 || got[204].ID != "save_204" {
		t.Errorf("%d views", len(got))
	}
	var skips []string
	for _, r := range f.requests() {
		q, _ := url.ParseQuery(r.RawQuery)
		skips = append(skips, q.Get("_skip")+"/"+q.Get("_limit"))
	}
	if !reflect.DeepEqual(skips, []string{"0/100", "100/100", "200/100"}) {
		t.Errorf("pages %v", skips)
	}
}

func TestPagingEdgeCases(t *testing.T) {
	t.Run("statuses that do page", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
			if n == 1 {
				jsonReply(w, 200, `{"data":[{"id":"stat_1","label":"A"}],"has_more":true}`)
				return
			}
			jsonReply(w, 200, `{"data":[{"id":"stat_2","label":"B"}],"has_more":false}`)
		})
		c, _ := testClient(t, f.base(), nil)
		got, err := c.LeadStatuses(context.Background())
		if err != nil || len(got) != 2 {
			t.Fatalf("%v %v", got, err)
		}
		reqs := f.requests()
		if reqs[0].RawQuery != "" || reqs[1].RawQuery != "_limit=100&_skip=1" {
			t.Errorf("queries %q %q", reqs[0].RawQuery, reqs[1].RawQuery)
		}
	})
	t.Run("has_more on an empty page", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
			jsonReply(w, 200, `{"data":[],"has_more":true}`)
		})
		c, _ := testClient(t, f.base(), nil)
		if _, err := c.Users(context.Background()); err == nil || f.count() != 1 {
			t.Errorf("err %v after %d requests", err, f.count())
		}
	})
	t.Run("empty list is empty, not nil", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) {
			jsonReply(w, 200, `{"data":[],"has_more":false}`)
		})
		c, _ := testClient(t, f.base(), nil)
		got, err := c.LeadCustomFields(context.Background())
		if err != nil || got == nil || len(got) != 0 {
			t.Errorf("%#v %v", got, err)
		}
	})
}

func TestUserOrganizations(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{`{"id":"u","organizations":["orga_a","orga_b"]}`, []string{"orga_a", "orga_b"}},
		{`{"id":"u","organizations":[{"id":"orga_a","name":"A"}]}`, []string{"orga_a"}},
		{`{"id":"u","organization_id":"orga_a","organizations":["orga_a","orga_c"]}`, []string{"orga_a", "orga_c"}},
		{`{"id":"u"}`, nil},
	}
	for _, tt := range tests {
		var u User
		if err := json.Unmarshal([]byte(tt.in), &u); err != nil {
			t.Fatal(err)
		}
		sort.Strings(u.OrganizationIDs)
		if !reflect.DeepEqual(u.OrganizationIDs, tt.want) {
			t.Errorf("%s: %v", tt.in, u.OrganizationIDs)
		}
	}
}
