package guards

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// view builds a Smart View object as Close answers GET /saved_search/{id}/
// (docs/close-api.md §5.2).
func view(id, typ string, sQuery any, userDependent bool) map[string]any {
	return map[string]any{
		"id": id, "name": "View " + id, "type": typ, "s_query": sQuery, "query": nil,
		"is_shared": true, "is_user_dependent": userDependent, "organization_id": "orga_test",
		"user_id": nil, "description": nil,
		"date_created": "2025-01-01T00:00:00.000000+00:00", "date_updated": "2025-01-01T00:00:00.000000+00:00",
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestPreviewSmartView(t *testing.T) {
	wrap := func(query string, limit any, sort string) map[string]any {
		return map[string]any{"query": raw(query), "results_limit": limit, "sort": raw(sort)}
	}
	conditionOnly := `{"type":"and","queries":[{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"Viewcorp"}}]}`
	tests := []struct {
		name     string
		view     map[string]any
		inLimit  *int
		code     string // refusal; "" = preview
		total    int
		will     int
		warnings []string
	}{
		{"snapshot with limit and sort", view("save_v1", "lead", wrap(nameQuery("Viewcorp"), 3, newestFirst), false), nil, "", 5, 3, nil},
		{"smaller input limit wins", view("save_v1", "lead", wrap(nameQuery("Viewcorp"), 3, newestFirst), false), ptr(2), "", 5, 2, nil},
		{"larger input limit cannot lift the view's", view("save_v1", "lead", wrap(nameQuery("Viewcorp"), 3, "[]"), false), ptr(4), "", 5, 3, nil},
		{"user dependent", view("save_v1", "lead", wrap(nameQuery("Viewcorp"), nil, "[]"), true), nil, "", 5, 5, []string{"user-dependent"}},
		{"object type added from the view's type", view("save_v1", "lead", wrap(conditionOnly, nil, "[]"), false), nil, "", 5, 5, []string{"added object_type"}},
		{"legacy view", view("save_v1", "lead", nil, false), nil, CodeSmartViewLegacy, 0, 0, nil},
		{"opportunity view", view("save_v1", "opportunity", wrap(nameQuery("Viewcorp"), nil, "[]"), false), nil, CodeSmartViewType, 0, 0, nil},
		{"type and query disagree", view("save_v1", "lead", wrap(`{"type":"and","queries":[{"type":"object_type","object_type":"contact"},{"type":"text","mode":"full_words","value":"x"}]}`, nil, "[]"), false), nil, CodeSmartViewMismatch, 0, 0, nil},
		{"All Leads", view("save_v1", "lead", wrap(`{"negate":false,"type":"match_all"}`, nil, "[]"), false), nil, CodeMatchAll, 0, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.addLeads("Viewcorp", 5)
			h.setView("save_v1", tc.view)
			h.sb.ResetRequests()
			p, err := h.g.Preview(context.Background(), h.cl, PreviewInput{SmartViewID: "save_v1", ResultsLimit: tc.inLimit})
			if tc.code != "" {
				wantRefusal(t, err, tc.code)
				if n := h.requests(); n != 0 {
					t.Errorf("%d searches for a refused view", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Total != tc.total || p.WillDelete != tc.will || !p.Executable {
				t.Fatalf("preview total %d will %d exec %v %v", p.Total, p.WillDelete, p.Executable, p.Refusal)
			}
			// The view's matches and every lead of the organization.
			if n := h.requests(); n != 2 {
				t.Errorf("%d searches, want 2", n)
			}
			for _, w := range tc.warnings {
				if !slices.ContainsFunc(p.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("warnings %q lack %q", p.Warnings, w)
				}
			}
			// The plan carries the snapshot: it executes with no further
			// view read, and the view changing afterwards does not matter.
			h.setView("save_v1", view("save_v1", "lead", wrap(`{"type":"match_all"}`, nil, "[]"), false))
			ex, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			if err != nil {
				t.Fatal(err)
			}
			if ex.Receipt.ResultsLimitSent != tc.will {
				t.Errorf("sent %d", ex.Receipt.ResultsLimitSent)
			}
			b := h.createBodies()
			var q map[string]any
			if err := json.Unmarshal(b[0].SQuery, &q); err != nil {
				t.Fatal(err)
			}
			if q["type"] != "and" || !strings.Contains(string(b[0].SQuery), `"object_type":"lead"`) {
				t.Errorf("sent s_query %s", b[0].SQuery)
			}
		})
	}
}

// A Smart View id Close does not know reaches the sandbox and comes back as
// a refusal, not an error.
func TestPreviewSmartViewNotFound(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	_, err := h.g.Preview(context.Background(), h.cl, PreviewInput{SmartViewID: "save_doesnotexist"})
	wantRefusal(t, err, CodeSmartViewNotFound)
}

// The demo organization's own Smart Views, straight from the sandbox.
func TestPreviewSeededSmartViews(t *testing.T) {
	tests := []struct {
		name     string
		view     string
		policy   Policy
		code     string // refusal from Preview
		notExec  string // refusal inside an unexecutable preview
		warnings []string
	}{
		{"All Leads", "All Leads", Policy{}, CodeMatchAll, "", nil},
		{"legacy string view", "Old string search", Policy{}, CodeSmartViewLegacy, "", nil},
		{"contact view where contacts are not allowed", "CEOs", Policy{AllowedObjectTypes: []string{"lead"}}, CodeSmartViewType, "", nil},
		{"contact view with no contacts", "CEOs", Policy{}, "", CodeNothingToDelete, nil},
		{"user-dependent view", "My leads", Policy{}, "", "", []string{"user-dependent", "CURRENT_USER"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{policy: tc.policy})
			h.addLeads("Seedcorp", 3)
			id, ok := h.sb.SmartViewID(tc.view)
			if !ok {
				t.Fatalf("the sandbox has no view %q", tc.view)
			}
			p, err := h.g.Preview(context.Background(), h.cl, PreviewInput{SmartViewID: id})
			if tc.code != "" {
				wantRefusal(t, err, tc.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.notExec != "" {
				if p.Executable || p.Refusal == nil || p.Refusal.Code != tc.notExec {
					t.Fatalf("preview %+v", p)
				}
				return
			}
			if !p.Executable || p.Total != 3 {
				t.Fatalf("preview total %d exec %v %v", p.Total, p.Executable, p.Refusal)
			}
			for _, w := range tc.warnings {
				if !slices.ContainsFunc(p.Warnings, func(s string) bool { return strings.Contains(s, w) }) {
					t.Errorf("warnings %q lack %q", p.Warnings, w)
				}
			}
		})
	}
}
