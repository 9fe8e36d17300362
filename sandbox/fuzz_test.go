package sandbox

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzSearch: whatever the body, /data/search/ and bulk-delete creation
// answer 200 or 400 — never a panic or a 500. The seeds run as a normal
// test.
func FuzzSearch(f *testing.F) {
	seeds := []string{
		`{"query":{"type":"match_all"}}`,
		`{"query":` + leads(related("lead", "contact", related("contact", "contact_email", fc("contact_email", "email", text("beginning_of_words", "a@b"))))) + `}`,
		`{"query":` + leads(fc("lead", "date_created", mrange(offset("future", 1, 1, "end"), period("next_quarter", "end")))) + `,"sort":[{"direction":"asc","field":{"type":"regular_field","object_type":"lead","field_name":"url"}}],"results_limit":3,"_limit":1}`,
		`{"query":{"type":"has_related","this_object_type":"lead","related_object_type":"address","related_query":{"type":"has_related","this_object_type":"address","related_object_type":"lead","related_query":{"type":"geo"}}}}`,
		`{"query":{"type":"saved_search","saved_search_id":"save_x"},"cursor":null,"include_counts":true}`,
		`{"query":{"type":"and","queries":[{"type":"id","value":""},{"type":"text","mode":"phrase","value":"  ---  "}]}}`,
		`{"query":` + contacts(fc("contact", "emails_count", `{"type":"number_range","gt":1e308,"lt":-1e308}`)) + `}`,
		`{"query":{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"custom."},"condition":{"type":"exists"}}}`,
		`{"query":{"type":"and","queries":[]},"_fields":{"lead":["contacts","addresses","custom"],"contact":["emails"]},"_limit":200}`,
	}
	files, _ := filepath.Glob("testdata/real-queries/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			seeds = append(seeds, string(b))
		}
	}
	for _, s := range seeds {
		f.Add(s)
	}
	s, err := New(Options{Leads: 60, Now: func() time.Time { return t0 }})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/api/v1/data/search/", "/api/v1/bulk_action/delete/"} {
			b := body
			if strings.HasSuffix(path, "delete/") {
				b = strings.Replace(body, `"query"`, `"s_query"`, 1)
			}
			req := httptest.NewRequest("POST", path, strings.NewReader(b))
			req.SetBasicAuth(DemoAPIKey, "")
			req.Header.Set("x-tz-offset", "5.5")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != 200 && w.Code != 400 {
				t.Fatalf("%s %s: %d %s", path, b, w.Code, w.Body)
			}
		}
	})
}
