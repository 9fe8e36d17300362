package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/guards"
)

// TestArgumentErrors: every malformed call is an isError result naming the
// place with a JSON pointer and what to do, and sends nothing to Close.
func TestArgumentErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	c := inProcess(t, f.srv, eras[1], nil)
	_, q := f.pickLeads(2)
	qj, _ := json.Marshal(q)
	query := string(qj)
	badMode := `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},` +
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":17,"value":"x"}}]}`
	cases := []struct {
		tool, args string
		want       []string
	}{
		{ToolPreview, `{"query":` + query + `}`, []string{`at /query: unknown argument "query"`, "valid arguments are: s_query, smart_view_id, sort, results_limit, send_done_email, sample_size"}},
		{ToolPreview, `{"s_query":` + query + `,"limit":1,"dry":true}`, []string{`unknown arguments "dry", "limit"`}},
		{ToolPreview, `{"s_query":` + query + `,"smart_view_id":"save_abc"}`, []string{"Refused (query_and_smart_view)", "at /smart_view_id", "both"}},
		{ToolPreview, `{}`, []string{"Refused (query_missing)", "s_query or smart_view_id is required at /s_query"}},
		{ToolPreview, `{"s_query":null,"smart_view_id":null}`, []string{"at /s_query", "required"}},
		{ToolPreview, `{"s_query":"not json"}`, []string{"at /s_query", "expected a JSON object"}},
		{ToolPreview, `{"s_query":"[1,2]"}`, []string{"at /s_query", "expected a JSON object"}},
		{ToolPreview, `{"s_query":5}`, []string{"at /s_query"}},
		{ToolPreview, `{"s_query":` + badMode + `}`, []string{"at /s_query/queries/1/condition/mode"}},
		{ToolPreview, `{"s_query":` + query + `,"sort":{"direction":"asc"}}`, []string{"at /sort"}},
		{ToolPreview, `{"s_query":` + query + `,"sort":[{"direction":"sideways","field":{"type":"regular_field","object_type":"lead","field_name":"name"}}]}`, []string{"at /sort/0"}},
		{ToolPreview, `{"s_query":` + query + `,"results_limit":"5"}`, []string{"at /results_limit", `expected an integer, got a string "5"`}},
		{ToolPreview, `{"s_query":` + query + `,"results_limit":2.5}`, []string{"at /results_limit", "expected an integer, got the number 2.5"}},
		{ToolPreview, `{"s_query":` + query + `,"results_limit":0}`, []string{"Refused (results_limit_invalid)", "at /results_limit", "at least 1"}},
		{ToolPreview, `{"s_query":{"query":` + query + `,"results_limit":1},"results_limit":2}`, []string{"at /results_limit", "already has results_limit 1"}},
		{ToolPreview, `{"s_query":` + query + `,"sample_size":51}`, []string{"at /sample_size", "between 0 and 50"}},
		{ToolPreview, `{"s_query":` + query + `,"send_done_email":"yes"}`, []string{"at /send_done_email", "expected true or false"}},
		{ToolPreview, `{"smart_view_id":"lead_abc"}`, []string{"Refused (smart_view_invalid_id)", "at /smart_view_id", "not a Smart View id"}},
		{ToolCreate, `{}`, []string{"at /plan_id", "plan_id is required"}},
		{ToolCreate, `{"plan_id":5}`, []string{"at /plan_id", "expected a string, got the number 5"}},
		{ToolCreate, `{"plan_id":"plan_x","confirmation":"DELETE 2 LEADS"}`, []string{`unknown argument "confirmation"`, "plan_id, confirm"}},
		{ToolCreate, `[1]`, []string{"arguments must be a JSON object"}},
		{ToolGet, `{}`, []string{"at /id", "id is required"}},
		{ToolGet, `{"id":"lead_abc"}`, []string{"at /id", "not a bulk-delete job id"}},
		{ToolGet, `{"id":"bulkdelete_../../me"}`, []string{"at /id"}},
		{ToolPause, `{"id":"../x"}`, []string{"at /id"}},
		{ToolResume, `{"id":"bulkdelete_abc","confirm":true}`, []string{"at /confirm", "expected a string"}},
		{ToolList, `{"limit":0}`, []string{"at /limit", "between 1 and 100"}},
		{ToolList, `{"limit":101}`, []string{"at /limit"}},
		{ToolList, `{"skip":-1}`, []string{"at /skip"}},
		{ToolList, `{"status":"finished"}`, []string{"at /status", "created, loading, processing, done, paused, resuming, error"}},
		{ToolList, `{"object_type":"opportunity"}`, []string{"at /object_type"}},
		{ToolLookup, `{}`, []string{"at /kind", "kind is required"}},
		{ToolLookup, `{"kind":"pipelines"}`, []string{"at /kind", "lead_statuses, custom_fields, smart_views, users"}},
	}
	for _, tc := range cases {
		t.Run(tc.tool+" "+tc.args, func(t *testing.T) {
			res := call(t, c, tc.tool, json.RawMessage(tc.args))
			wantError(t, res, append([]string{"Nothing was deleted"}, tc.want...)...)
			if strings.Contains(resultText(res), "Refused") {
				return
			}
			if !strings.Contains(resultText(res), "Invalid arguments") {
				t.Fatalf("not an argument error: %s", resultText(res))
			}
		})
	}
	f.wantCreates(t, 0)
}

// TestPreviewInputs: the forms of s_query a client may send.
func TestPreviewInputs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	c := inProcess(t, f.srv, eras[0], nil)
	_, q := f.pickLeads(3)
	qj, _ := json.Marshal(q)
	sort := []any{map[string]any{"direction": "asc", "field": map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"}}}
	sj, _ := json.Marshal(sort)

	// A JSON string holding the query (MCP Inspector --tool-arg, some UIs).
	p := preview(t, c, map[string]any{"s_query": string(qj), "sort": string(sj), "sample_size": 2, "send_done_email": false})
	if p.Total != 3 || len(p.Sample) != 2 {
		t.Fatalf("stringified preview = %+v", p)
	}
	// sample_size 0 counts only: no sample, one Close request.
	f.sb.ResetRequests()
	p = preview(t, c, map[string]any{"s_query": q, "sample_size": 0})
	if p.Total != 3 || len(p.Sample) != 0 || f.sb.Requests("", "/") != 1 {
		t.Fatalf("count-only preview = %+v after %d Close requests", p, f.sb.Requests("", "/"))
	}
	// The Copy Filters wrapper with its own results_limit and sort.
	p = preview(t, c, map[string]any{"s_query": map[string]any{"query": q, "results_limit": 1, "sort": sort}})
	if p.Total != 3 || p.WillDelete != 1 || p.ResultsLimit == nil || *p.ResultsLimit != 1 || p.ConfirmationPhrase != "DELETE 1 LEAD" {
		t.Fatalf("wrapper preview = %+v", p)
	}
	// The same sort given twice is fine.
	preview(t, c, map[string]any{"s_query": map[string]any{"query": q, "sort": sort}, "sort": sort})
	// A different one is not.
	other := []any{map[string]any{"direction": "desc", "field": map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"}}}
	wantError(t, call(t, c, ToolPreview, map[string]any{"s_query": map[string]any{"query": q, "sort": sort}, "sort": other}), "at /sort")
	// Arguments sent as a JSON string value of null are "not given".
	p = preview(t, c, map[string]any{"s_query": q, "sort": nil, "results_limit": nil})
	if p.Total != 3 {
		t.Fatalf("preview = %+v", p)
	}
}

// TestPreviewPolicy: the guard's policy answers come through as refusals,
// or as a plan that is not executable.
func TestPreviewPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{policy: guards.Policy{MaxObjects: 2}})
	c := inProcess(t, f.srv, eras[1], readingForm())
	res := call(t, c, ToolPreview, map[string]any{"s_query": map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"}}}})
	wantRefusal(t, res, guards.CodeMatchAll)
	res = call(t, c, ToolPreview, map[string]any{"s_query": map[string]any{"type": "text", "mode": "full_words", "value": "acme"}})
	wantRefusal(t, res, guards.CodeObjectTypeMissing)

	_, q := f.pickLeads(3)
	p := preview(t, c, map[string]any{"s_query": q})
	if p.Executable || p.Refusal == nil || p.Refusal.Code != guards.CodeTooMany || p.Total != 3 {
		t.Fatalf("over the cap: %+v", p)
	}
	wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID}), guards.CodePlanNotExecutable)
}
