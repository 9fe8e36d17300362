package tools

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/sandbox"
)

// TestPlanRefusals: unknown, consumed, expired and foreign plans are
// isError refusals naming /plan_id, and send nothing.
func TestPlanRefusals(t *testing.T) {
	t.Parallel()
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOpts{})
		c := inProcess(t, f.srv, eras[1], readingForm())
		res := call(t, c, ToolCreate, map[string]any{"plan_id": "plan_doesnotexist0000000000"})
		wantRefusal(t, res, guards.CodePlanUnknown)
		wantError(t, res, "/plan_id", "preview_bulk_delete")
	})
	t.Run("consumed", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOpts{})
		_, q := f.pickLeads(1)
		c := inProcess(t, f.srv, eras[1], nil)
		p := preview(t, c, map[string]any{"s_query": q})
		call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase})
		wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), guards.CodePlanConsumed)
		f.wantCreates(t, 1)
	})
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOpts{})
		_, q := f.pickLeads(1)
		c := inProcess(t, f.srv, eras[0], readingForm())
		p := preview(t, c, map[string]any{"s_query": q})
		f.clock.Advance(guards.DefaultPlanTTL + time.Second)
		wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID}), guards.CodePlanExpired)
		f.wantCreates(t, 0)
	})
	t.Run("foreign", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOpts{})
		_, q := f.pickLeads(1)
		c := inProcess(t, f.srv, eras[1], nil)
		p := preview(t, c, map[string]any{"s_query": q})
		// Another server process state (same guard) holding another key.
		other := f.deps
		other.Client = f.newClient("another-key")
		c2 := inProcess(t, NewServer(other), eras[1], nil)
		wantRefusal(t, call(t, c2, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), guards.CodePlanForeign)
	})
}

// TestDriftUpRefused: a lead that starts matching after the preview makes
// the create refuse; the person never saw it.
func TestDriftUpRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	for range 2 {
		f.sb.AddLead(sandbox.LeadSpec{Name: "Zorblatt Holdings"})
	}
	q := map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "name"},
			"condition": map[string]any{"type": "text", "mode": "full_words", "value": "Zorblatt"}},
	}}
	c := inProcess(t, f.srv, eras[1], readingForm())
	p := preview(t, c, map[string]any{"s_query": q})
	if p.Total != 2 {
		t.Fatalf("preview total = %d, want 2", p.Total)
	}
	f.sb.AddLead(sandbox.LeadSpec{Name: "Zorblatt Holdings"})
	res := call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID})
	wantRefusal(t, res, guards.CodeDriftUp)
	f.wantCreates(t, 0)
}

// TestConcurrentCreateOneJob: two creates of one plan at once start at
// most one job.
func TestConcurrentCreateOneJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	_, q := f.pickLeads(3)
	c := inProcess(t, f.srv, eras[1], nil)
	p := preview(t, c, map[string]any{"s_query": q})
	c2 := inProcess(t, f.srv, eras[0], nil)
	var wg sync.WaitGroup
	results := make([]*mcp.CallToolResult, 2)
	errs := make([]error, 2)
	for i, cl := range []interface {
		CallTool(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
	}{c, c2} {
		wg.Go(func() {
			results[i], errs[i] = cl.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{
				Name: ToolCreate, Arguments: map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}}})
		})
	}
	wg.Wait()
	ok := 0
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		checkResult(t, ToolCreate, results[i])
		if !results[i].IsError {
			ok++
			continue
		}
		text := resultText(results[i])
		if !strings.Contains(text, guards.CodePlanInUse) && !strings.Contains(text, guards.CodePlanConsumed) {
			t.Fatalf("the losing create was refused for the wrong reason: %s", text)
		}
	}
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want exactly 1", ok)
	}
	f.wantCreates(t, 1)
}

// TestSealedStateByHand drives the modern multi round-trip by hand, as a
// hostile client could: a forged state, a state replayed, a state for
// another plan, and an answer without the state are all refused.
func TestSealedStateByHand(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	_, q1 := f.pickLeads(1)
	c := inProcess(t, f.srv, eras[1], nil)
	p1 := preview(t, c, map[string]any{"s_query": q1})
	p2 := preview(t, c, map[string]any{"s_query": idQuery(f.sb.LeadIDs()[:1])})

	var create server.ToolHandlerFunc
	for _, st := range Tools(f.deps) {
		if st.Tool.Name == ToolCreate {
			create = st.Handler
		}
	}
	// A modern request from a client that declared form elicitation.
	ctx := server.WithRequestProtocolInfo(context.Background(), &server.RequestProtocolInfo{
		Modern: true, ProtocolVersion: mcp.ProtocolVersion20260728,
		ClientCapabilities: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{}},
	})
	first := func(planID string) string {
		res, err := create(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: ToolCreate, Arguments: map[string]any{"plan_id": planID}}})
		if err != nil || !res.NeedsInput() || res.RequestState == "" {
			t.Fatalf("first call: %v %+v", err, res)
		}
		el := res.InputRequests[elicitID].Elicitation
		if el == nil || el.Mode != mcp.ElicitationModeForm || !strings.Contains(el.Message, "DELETE 1 LEAD") {
			t.Fatalf("input request = %+v", res.InputRequests)
		}
		return res.RequestState
	}
	retry := func(planID, state string, answer *mcp.ElicitationResult) *mcp.CallToolResult {
		req := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: ToolCreate, Arguments: map[string]any{"plan_id": planID}}}
		req.Params.RequestState = state
		if answer != nil {
			req.Params.InputResponses = mcp.InputResponses{elicitID: mcp.NewElicitationInputResponse(*answer)}
		}
		res, err := create(ctx, req)
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		checkResult(t, ToolCreate, res)
		return res
	}
	accept := &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"phrase": "DELETE 1 LEAD"}}}

	wantRefusal(t, retry(p1.PlanID, "forged-state", accept), guards.CodeStateTampered)
	wantRefusal(t, retry(p1.PlanID, "", accept), guards.CodeStateTampered)
	s1 := first(p1.PlanID)
	wantRefusal(t, retry(p2.PlanID, s1, accept), guards.CodeStateWrongTarget)
	s1 = first(p1.PlanID)
	wantRefusal(t, retry(p1.PlanID, s1, nil), guards.CodeConfirmationInvalid)
	s1 = first(p1.PlanID)
	ok := retry(p1.PlanID, s1, accept)
	if ok.IsError {
		t.Fatalf("accepted create failed: %s", resultText(ok))
	}
	wantRefusal(t, retry(p1.PlanID, s1, accept), guards.CodeStateReplayed)
	f.wantCreates(t, 1)
}

// TestPauseResume: pause is the brake; resume needs the same confirmation
// as create, with the phrase RESUME <id>, through the form or the phrase.
func TestPauseResume(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{deleteRate: 1})
	_, q := f.pickLeads(30)
	c := inProcess(t, f.srv, eras[1], nil)
	p := preview(t, c, map[string]any{"s_query": q})
	var cr createResult
	structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &cr)
	id := cr.Job.ID

	var paused jobResult
	structured(t, call(t, c, ToolPause, map[string]any{"id": id}), &paused)
	if paused.Job.StatusString() != "paused" || paused.Progress.Terminal {
		t.Fatalf("after pause: %+v %+v", paused.Job.StatusString(), paused.Progress)
	}
	// Pausing again is harmless (idempotent).
	structured(t, call(t, c, ToolPause, map[string]any{"id": id}), &paused)

	wantRefusal(t, call(t, c, ToolResume, map[string]any{"id": id}), guards.CodeConfirmationMissing)
	wantRefusal(t, call(t, c, ToolResume, map[string]any{"id": id, "confirm": "RESUME"}), guards.CodeConfirmationMismatch)
	var resumed jobResult
	structured(t, call(t, c, ToolResume, map[string]any{"id": id, "confirm": "RESUME " + id}), &resumed)
	if s := resumed.Job.StatusString(); s == "paused" {
		t.Fatalf("still paused after resume")
	}
	// A running job cannot be resumed.
	wantRefusal(t, call(t, c, ToolResume, map[string]any{"id": id, "confirm": "RESUME " + id}), guards.CodeJobNotPaused)

	// Through the form, in both eras.
	for _, e := range eras {
		structured(t, call(t, c, ToolPause, map[string]any{"id": id}), &paused)
		who := readingForm()
		ce := inProcess(t, f.srv, e, who)
		structured(t, call(t, ce, ToolResume, map[string]any{"id": id}), &resumed)
		if who.times() != 1 || !strings.Contains(who.last().Params.Message, "RESUME "+id) {
			t.Fatalf("%s: form = %d %q", e.name, who.times(), who.last().Params.Message)
		}
	}
	// Stop it: the rest of the test suite does not need it running.
	structured(t, call(t, c, ToolPause, map[string]any{"id": id}), &paused)

	var listed listResult
	structured(t, call(t, c, ToolList, map[string]any{"status": "paused"}), &listed)
	if len(listed.Jobs) != 1 || listed.Jobs[0].ID != id {
		t.Fatalf("list status=paused = %+v", listed.Jobs)
	}
}

// TestPauseFinishedJob: the brake on a finished job is a refusal that says
// nothing more will be deleted.
func TestPauseFinishedJob(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	_, q := f.pickLeads(1)
	c := inProcess(t, f.srv, eras[1], nil)
	p := preview(t, c, map[string]any{"s_query": q})
	var cr createResult
	structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &cr)
	waitDone(t, c, cr.Job.ID)
	wantRefusal(t, call(t, c, ToolPause, map[string]any{"id": cr.Job.ID}), guards.CodeJobFinished)
}

// TestListAndGet covers paging, filtering and the job/progress shape.
func TestListAndGet(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	c := inProcess(t, f.srv, eras[1], nil)
	all := f.sb.LeadIDs()
	var jobs []string
	for i := range 3 {
		p := preview(t, c, map[string]any{"s_query": idQuery(all[i : i+1])})
		var cr createResult
		structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &cr)
		jobs = append(jobs, cr.Job.ID)
		waitDone(t, c, cr.Job.ID)
	}
	var l listResult
	structured(t, call(t, c, ToolList, map[string]any{}), &l)
	if len(l.Jobs) != 3 || l.HasMore || l.NextSkip != nil {
		t.Fatalf("list = %+v", l)
	}
	structured(t, call(t, c, ToolList, map[string]any{"limit": 2}), &l)
	if len(l.Jobs) != 2 || !l.HasMore || l.NextSkip == nil || *l.NextSkip != 2 {
		t.Fatalf("list limit 2 = %d jobs, has_more %v, next %v", len(l.Jobs), l.HasMore, l.NextSkip)
	}
	structured(t, call(t, c, ToolList, map[string]any{"limit": 2, "skip": 2}), &l)
	if len(l.Jobs) != 1 || l.HasMore {
		t.Fatalf("list skip 2 = %+v", l)
	}
	structured(t, call(t, c, ToolList, map[string]any{"status": "done", "limit": 2}), &l)
	if len(l.Jobs) != 2 || !l.HasMore || l.NextSkip == nil || l.Scanned == 0 {
		t.Fatalf("list done limit 2 = %d jobs, has_more %v, next %v", len(l.Jobs), l.HasMore, l.NextSkip)
	}
	structured(t, call(t, c, ToolList, map[string]any{"status": "done", "skip": *l.NextSkip}), &l)
	if len(l.Jobs) != 1 || l.HasMore {
		t.Fatalf("list done, next page = %+v", l)
	}
	structured(t, call(t, c, ToolList, map[string]any{"object_type": "contact"}), &l)
	if len(l.Jobs) != 0 || l.HasMore {
		t.Fatalf("list contact = %+v", l)
	}
	var g jobResult
	structured(t, call(t, c, ToolGet, map[string]any{"id": jobs[0]}), &g)
	if g.Job.ID != jobs[0] || !g.Progress.Terminal || g.Progress.Total == nil || *g.Progress.Total != 1 || g.Progress.Percent == nil || *g.Progress.Percent != 100 {
		t.Fatalf("get = %+v %+v", g.Job, g.Progress)
	}
	wantError(t, call(t, c, ToolGet, map[string]any{"id": "bulkdelete_doesnotexist"}), "Close has no bulk-delete job bulkdelete_doesnotexist", "404")
}

// TestLookup: every kind answers ids and names; name filters.
func TestLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	c := inProcess(t, f.srv, eras[1], nil)
	prefix := map[string]string{"lead_statuses": "stat_", "custom_fields": "cf_", "smart_views": "save_", "users": "user_"}
	for _, kind := range lookupKinds {
		var l lookupResult
		structured(t, call(t, c, ToolLookup, map[string]any{"kind": kind}), &l)
		if l.Kind != kind || len(l.Items) == 0 {
			t.Fatalf("%s: %+v", kind, l)
		}
		for _, it := range l.Items {
			if !strings.HasPrefix(it.ID, prefix[kind]) || it.Name == "" {
				t.Fatalf("%s item %+v", kind, it)
			}
		}
		// Filtering by a piece of the first name, in another case, keeps it.
		name := l.Items[0].Name
		piece := strings.ToUpper(name[:min(3, len(name))])
		var fl lookupResult
		structured(t, call(t, c, ToolLookup, map[string]any{"kind": kind, "name": piece}), &fl)
		found := false
		for _, it := range fl.Items {
			found = found || it.ID == l.Items[0].ID
			if !strings.Contains(strings.ToLower(it.Name), strings.ToLower(piece)) {
				t.Fatalf("%s filter %q kept %q", kind, piece, it.Name)
			}
		}
		if !found {
			t.Fatalf("%s filter %q lost %q", kind, piece, name)
		}
	}
	var cf lookupResult
	structured(t, call(t, c, ToolLookup, map[string]any{"kind": "custom_fields"}), &cf)
	typed := false
	for _, it := range cf.Items {
		typed = typed || it.Type != ""
	}
	if !typed {
		t.Fatalf("custom fields carry no type: %+v", cf.Items)
	}
}
