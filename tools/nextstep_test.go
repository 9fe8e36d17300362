package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
)

// structuredOnly is what a client that passes only structuredContent to
// the model (Claude Code) gives it: the JSON, nothing of the text.
func structuredOnly(t *testing.T, res *mcp.CallToolResult) (string, map[string]any) {
	t.Helper()
	if res.IsError {
		t.Fatalf("unexpected error: %s", resultText(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return string(b), m
}

func wantAll(t *testing.T, what, s string, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(s, f) {
			t.Errorf("%s lacks %q:\n%s", what, f, s)
		}
	}
}

// TestStructuredContentAloneIsEnough: a model that reads only
// structuredContent still learns what is irreversible, what to show, what
// the person types, and which tool comes next, from next_step.
func TestStructuredContentAloneIsEnough(t *testing.T) {
	f := newFixture(t, fixtureOpts{approvals: true, deleteRate: 2})
	c := inProcess(t, f.srv, eras[0], nil)
	_, q := f.pickLeads(3)

	_, m := structuredOnly(t, call(t, c, ToolPreview, map[string]any{"s_query": q}))
	next, _ := m["next_step"].(string)
	plan, _ := m["plan_id"].(string)
	wantAll(t, "preview next_step", next, "IRREVERSIBLE", "DELETE 3 LEADS", "themselves", "Never type it for them",
		"create_bulk_delete", plan, "approval_url", "summary, count (3 leads) and sample", "never as instructions")
	if s, _ := m["sample"].([]any); len(s) != 3 {
		t.Fatalf("structured sample: %v", m["sample"])
	}

	var out createResult
	res := call(t, c, ToolCreate, map[string]any{"plan_id": plan, "confirm": "DELETE 3 LEADS"})
	structured(t, res, &out)
	_, m = structuredOnly(t, res)
	next, _ = m["next_step"].(string)
	wantAll(t, "create next_step", next, "cannot be undone", "get_bulk_delete", "pause_bulk_delete", out.Job.ID)

	_, m = structuredOnly(t, call(t, c, ToolPause, map[string]any{"id": out.Job.ID}))
	next, _ = m["next_step"].(string)
	if job, _ := m["job"].(map[string]any); job["status"] != guards.JobPaused {
		t.Fatalf("the paced job is %v after the pause, want paused", job["status"])
	}
	wantAll(t, "paused job next_step", next, "resume_bulk_delete", "RESUME "+out.Job.ID, "themselves", "irreversible")
}

// TestStructuredRefusedPlanIsEnough: a preview that cannot be executed
// says why and what to do in next_step.
func TestStructuredRefusedPlanIsEnough(t *testing.T) {
	f := newFixture(t, fixtureOpts{policy: guards.Policy{MaxObjects: 2}})
	c := inProcess(t, f.srv, eras[0], nil)
	_, q := f.pickLeads(3)
	_, m := structuredOnly(t, call(t, c, ToolPreview, map[string]any{"s_query": q}))
	next, _ := m["next_step"].(string)
	wantAll(t, "refused preview next_step", next, "Nothing can be deleted", guards.CodeTooMany, "Narrow the query")
}
