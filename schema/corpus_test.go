package schema

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// realQueryDir holds queries people outside the project wrote for Close,
// copied from the shared design docs with their README (provenance) so the
// tests run on a clean clone.
const realQueryDir = "testdata/real-queries"

type realQuery struct {
	name string
	data []byte
}

func realQueries(t testing.TB) []realQuery {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(realQueryDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no real queries under %s", realQueryDir)
	}
	var out []realQuery
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, realQuery{name: filepath.Base(f), data: data})
	}
	return out
}

// closeExamples are the examples of docs/close-api.md §1.2 and §3, each made a
// complete query node: fragments (fields, conditions, moments) sit in a
// field_condition on a fitting field, and the "{…}" placeholders of the
// and/or examples are filled with small nodes.
var closeExamples = []struct {
	name string
	node string
}{
	{"1.2 create request s_query", `{
  "type": "and",
  "queries": [
    {"type": "object_type", "object_type": "lead"},
    {"type": "field_condition",
     "field": {"type": "regular_field", "object_type": "lead", "field_name": "name"},
     "condition": {"type": "text", "mode": "full_words", "value": "ACME Inc."}}
  ]
}`},
	{"3.2 and with match_all", `{"type": "and", "queries": [ {"type": "object_type", "object_type": "lead"}, {"type": "match_all"} ]}`},
	{"3.2 or", `{"type": "or",  "queries": [ {"type": "id", "value": "lead_abc123"}, {"type": "id", "value": "lead_def456"} ], "negate": false}`},
	{"3.2 object_type contact", `{"type": "object_type", "object_type": "contact"}`},
	{"3.2 id", `{"type": "id", "value": "lead_abc123"}`},
	{"3.2 text full_words", `{"type": "text", "mode": "full_words", "value": "Bruce"}`},
	{"3.2 text phrase", `{"type": "text", "mode": "phrase", "value": "Wayne Enterprises"}`},
	{"3.2 text beginning_of_words", `{"type": "text", "mode": "beginning_of_words", "value": "bruce@wayne"}`},
	{"3.2 field_condition title", `{"type": "field_condition",
 "field": {"type": "regular_field", "object_type": "contact", "field_name": "title"},
 "condition": {"type": "text", "mode": "full_words", "value": "CEO"}}`},
	{"3.2 has_related custom field term", `{"type": "has_related", "this_object_type": "contact", "related_object_type": "lead",
 "related_query": {"type": "field_condition",
                   "field": {"type": "custom_field", "custom_field_id": "cf_B57sofuEB7OBneH86SJctTr7hfiAiQcgkGRbAQfha0Z"},
                   "condition": {"type": "term", "values": ["Software as a service"]}, "negate": false}}`},
	{"3.2 saved_search", `{"type": "saved_search", "saved_search_id": "save_ebxRoBR5KEXJz0jTSCfn1xyaXMQYBHmskqU6iCOoZd9"}`},
	{"3.2 match_all", `{"type": "match_all", "negate": false}`},
	{"3.3 regular_field date_created", `{"type":"field_condition","field":{"type": "regular_field", "object_type": "lead", "field_name": "date_created"},"condition":{"type":"exists"}}`},
	{"3.3 custom_field", `{"type":"field_condition","field":{"type": "custom_field", "custom_field_id": "cf_abcdef"},"condition":{"type":"exists"}}`},
	{"3.4 term", `{"type":"field_condition","field":{"type":"custom_field","custom_field_id":"cf_abcdef"},"condition":{"type": "term", "values": ["draft", "sent"]}}`},
	{"3.4 boolean", `{"type":"field_condition","field":{"type":"custom_field","custom_field_id":"cf_abcdef"},"condition":{"type": "boolean", "value": true}}`},
	{"3.4 number_range gt", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type": "number_range", "gt": 1}}`},
	{"3.4 number_range gte lte", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type": "number_range", "gte": 10, "lte": 100}}`},
	{"3.4 reference user", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"created_by"},"condition":{"type": "reference", "reference_type": "user", "object_ids": ["user_abc", "user_def"]}}`},
	{"3.4 reference status.lead", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},"condition":{"type": "reference", "reference_type": "status.lead", "object_ids": ["stat_abc"]}}`},
	{"3.4 reference user_or_group", `{"type":"field_condition","field":{"type":"regular_field","object_type":"opportunity","field_name":"user_id"},"condition":{"type": "reference", "reference_type": "user_or_group", "object_ids": ["user_abc", "group_def"]}}`},
	{"3.4 current_user", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"created_by"},"condition":{"type": "current_user"}}`},
	{"3.4 exists", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"url"},"condition":{"type": "exists"}}`},
	{"3.4 moment_range fixed_utc", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"},"condition":{"type": "moment_range",
 "on_or_after": {"type": "fixed_utc", "value": "2025-12-08T21:12:12+00:00"},
 "before": null}}`},
	{"3.5 fixed_local_date", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"},"condition":{"type":"moment_range","on_or_after":{"type":"fixed_local_date","value":"2026-02-18","which":"start"},"before":{"type":"fixed_utc","value":"2024-01-02T03:04:05+00:00"}}}`},
	{"3.5 offset 30 days", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"},"condition":{"type": "moment_range",
 "before": {"type": "now"},
 "on_or_after": {"type": "offset", "direction": "past", "moment": {"type": "now"},
                 "offset": {"years": 0, "months": 0, "weeks": 0, "days": 30, "hours": 0, "minutes": 0, "seconds": 0},
                 "which_day_end": "start"}}}`},
	{"3.5 today", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"},"condition":{"type": "moment_range",
 "on_or_after": {"type": "start_end_of_predefined_relative_period", "range": "today", "which": "start"},
 "before":      {"type": "start_end_of_predefined_relative_period", "range": "today", "which": "end"}}}`},
	{"3.7 lead has contact with email", `{"type": "has_related", "this_object_type": "lead", "related_object_type": "contact",
 "related_query": {"type": "has_related", "this_object_type": "contact", "related_object_type": "contact_email",
   "related_query": {"type": "field_condition",
     "field": {"type": "regular_field", "object_type": "contact_email", "field_name": "email"},
     "condition": {"type": "text", "mode": "exact_value", "value": "jane@acme.com"}}}}`},
	{"5.2 All Leads view query", `{"negate": false, "type": "match_all"}`},
	{"5.3 by reference", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"saved_search","saved_search_id":"save_abc"}]}`},
}

// closeExampleSort is the sort of docs/close-api.md §1.2's create request.
const closeExampleSort = `[{"direction": "desc",
            "field": {"type": "regular_field", "object_type": "lead", "field_name": "date_created"}}]`

// normJSON is data with whitespace and key order normalised, for
// comparing two JSON texts. Numbers are compared as float64, which is how
// the grammar holds them.
func normJSON(t testing.TB, data []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	out, err := json.Marshal(v) // map keys come out sorted
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func sortedKeys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
