package e2e

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// toolResult is one tools/call answer as a client sees it.
type toolResult struct {
	IsError    bool
	Text       string          // the text content blocks, joined
	Structured json.RawMessage // structuredContent; nil when absent
}

// mcpClient is one client of the server under test: the Inspector CLI, the
// Inspector's mcpdo, or the Go SDK.
type mcpClient interface {
	call(t *testing.T, tool string, args map[string]any) toolResult
}

// ok fails the test unless r is a successful result with structured content,
// and decodes that content strictly into v.
func ok(t *testing.T, what string, r toolResult, v any) {
	t.Helper()
	if r.IsError {
		t.Fatalf("%s: isError result: %s", what, r.Text)
	}
	if len(r.Structured) == 0 {
		t.Fatalf("%s: no structuredContent (text: %s)", what, r.Text)
	}
	decodeStrict(t, what, r.Structured, v)
	// Clients that ignore structuredContent read the text (mcp-notes §D.1):
	// it must be there and say which environment it speaks for.
	var env struct{ Environment string }
	_ = json.Unmarshal(r.Structured, &env)
	if strings.TrimSpace(r.Text) == "" || (env.Environment != "" && !strings.Contains(r.Text, env.Environment)) {
		t.Errorf("%s: text content %.200q does not carry the result (environment %q)", what, r.Text, env.Environment)
	}
}

// refused fails the test unless r is an isError result that says nothing was
// deleted (every refusal does, issue 4) and carries no structuredContent
// (which a TS-SDK client would validate against the output schema).
func refused(t *testing.T, what string, r toolResult) {
	t.Helper()
	if !r.IsError {
		t.Fatalf("%s: want a refusal (isError), got %s", what, r.Structured)
	}
	if !strings.Contains(r.Text, "Nothing was deleted") {
		t.Errorf("%s: refusal does not say nothing was deleted: %s", what, r.Text)
	}
	if len(r.Structured) != 0 {
		t.Errorf("%s: refusal carries structuredContent %s", what, r.Structured)
	}
}

// attempt is one named way to call create_bulk_delete.
type attempt struct {
	name string
	run  func(t *testing.T, planID, phrase string) toolResult
}

// flow is the whole guarded delete, as an assistant would run it:
// lookup_close_ids → preview_bulk_delete → (refusals) → create_bulk_delete →
// get_bulk_delete until done → list_bulk_deletes; then the sandbox process is
// inspected from outside and the audit log is read.
type flow struct {
	c        mcpClient
	sb       *sandboxProc
	auditLog string
	// confirm runs create_bulk_delete for planID the way this client confirms
	// (the phrase argument, or an elicitation answered with the phrase).
	confirm     func(t *testing.T, planID, phrase string) toolResult
	confirmedBy string // "phrase" or "elicitation"
	// refusals each attempt a create that must be refused without deleting
	// anything (no phrase, a wrong phrase, a declined or cancelled form…).
	refusals []attempt
	// quick skips the checks that only repeat what other flows cover (the
	// lookup name filter, filtered job lists, the preview after the delete),
	// for clients where every call is slow.
	quick bool
	// wantEnv is the environment results report: "close" for a server
	// pointed at a sandbox process with CLOSE_API_KEY and --close-url.
	wantEnv string
}

var rePhrase = regexp.MustCompile(`^DELETE (\d+) LEADS?$`)

// badFit finds the "Bad Fit" lead status through lookup_close_ids and returns
// its id, checking the lookup result field by field.
func badFit(t *testing.T, c mcpClient, wantEnv string, quick bool) string {
	t.Helper()
	var all lookupResult
	ok(t, "lookup_close_ids lead_statuses", c.call(t, "lookup_close_ids", map[string]any{"kind": "lead_statuses"}), &all)
	if all.Environment != wantEnv || all.Kind != "lead_statuses" || all.Truncated {
		t.Errorf("lookup: environment=%q kind=%q truncated=%v", all.Environment, all.Kind, all.Truncated)
	}
	if len(all.Items) < 2 {
		t.Fatalf("lookup: %d lead statuses, want the demo org's several", len(all.Items))
	}
	var id string
	for _, it := range all.Items {
		if !strings.HasPrefix(it.ID, "stat_") || it.Name == "" {
			t.Errorf("lookup item %+v: want a stat_ id and a name", it)
		}
		if it.Type != "" || len(it.Choices) != 0 || it.Email != "" {
			t.Errorf("lookup item %+v: a lead status has no type, choices or email", it)
		}
		if it.Name == "Bad Fit" {
			id = it.ID
		}
	}
	if id == "" {
		t.Fatalf("lookup: no \"Bad Fit\" status among %+v", all.Items)
	}
	if quick {
		return id
	}
	var filtered lookupResult
	ok(t, "lookup_close_ids name=bad fit", c.call(t, "lookup_close_ids", map[string]any{"kind": "lead_statuses", "name": "bad fit"}), &filtered)
	if len(filtered.Items) != 1 || filtered.Items[0].ID != id {
		t.Errorf("lookup name=\"bad fit\": %+v, want only %s", filtered.Items, id)
	}
	return id
}

// statusQuery is "every lead whose status is statID".
func statusQuery(statID string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"and","queries":[`+
		`{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},`+
		`"condition":{"type":"reference","reference_type":"status.lead","object_ids":[%q]}}]}`, statID))
}

// preview runs preview_bulk_delete and checks every field against what the
// sandbox itself reports for the query.
func preview(t *testing.T, c mcpClient, query json.RawMessage, wantIDs []string, wantEnv string) previewResult {
	t.Helper()
	start := time.Now()
	var p previewResult
	ok(t, "preview_bulk_delete", c.call(t, "preview_bulk_delete", map[string]any{"s_query": query, "sample_size": 5}), &p)
	n := len(wantIDs)
	if !strings.HasPrefix(p.PlanID, "plan_") {
		t.Errorf("plan_id = %q, want plan_…", p.PlanID)
	}
	if p.Environment != wantEnv || p.ObjectType != "lead" {
		t.Errorf("environment=%q object_type=%q, want %q lead", p.Environment, p.ObjectType, wantEnv)
	}
	if p.Total != n || p.WillDelete != n || p.ResultsLimit != nil {
		t.Errorf("total=%d will_delete=%d results_limit=%v, want %d %d none", p.Total, p.WillDelete, p.ResultsLimit, n, n)
	}
	if p.OrgTotal <= p.Total || !strings.Contains(p.Share, fmt.Sprintf("%d of %d leads", n, p.OrgTotal)) {
		t.Errorf("org_total=%d share=%q: want every lead of the organization counted", p.OrgTotal, p.Share)
	}
	if !strings.Contains(strings.ToLower(p.Summary), "lead") {
		t.Errorf("summary %q does not name leads", p.Summary)
	}
	if len(p.Sample) != min(5, n) {
		t.Errorf("sample has %d items, want %d", len(p.Sample), min(5, n))
	}
	for _, s := range p.Sample {
		if !slices.Contains(wantIDs, s.ID) || s.DisplayName == "" || s.Status == "" || s.DateCreated == "" {
			t.Errorf("sample item %+v: not one of the matching leads, or no display name, status or created date", s)
		}
	}
	if !p.Executable || p.Refusal != nil {
		t.Errorf("executable=%v refusal=%+v, want an executable plan", p.Executable, p.Refusal)
	}
	if m := rePhrase.FindStringSubmatch(p.ConfirmationPhrase); m == nil || m[1] != fmt.Sprint(n) {
		t.Errorf("confirmation_phrase = %q, want DELETE %d LEADS", p.ConfirmationPhrase, n)
	}
	// The default plan TTL is 10 minutes; allow for clock granularity and a slow start.
	if p.ExpiresAt == nil || p.ExpiresAt.Before(start.Add(9*time.Minute)) || p.ExpiresAt.After(time.Now().Add(11*time.Minute)) {
		t.Errorf("expires_at = %v, want about 10 minutes from now", p.ExpiresAt)
	}
	return p
}

// noJobs checks through list_bulk_deletes that no job exists yet.
func noJobs(t *testing.T, c mcpClient, wantEnv string) {
	t.Helper()
	var l listResult
	ok(t, "list_bulk_deletes", c.call(t, "list_bulk_deletes", map[string]any{}), &l)
	if l.Environment != wantEnv || len(l.Jobs) != 0 || l.HasMore || l.NextSkip != nil {
		t.Fatalf("list_bulk_deletes before any create: %+v", l)
	}
}

func (f flow) run(t *testing.T) {
	statID := badFit(t, f.c, f.wantEnv, f.quick)
	query := statusQuery(statID)

	// What the sandbox says before anything happens.
	ids, total := f.sb.search(t, query)
	if total != len(ids) || total == 0 || total > 1000 {
		t.Fatalf("sandbox: %d Bad Fit leads (%d ids); the demo org should have some, under the 1000 default cap", total, len(ids))
	}
	allBefore, allTotal := f.sb.search(t, allLeads)
	var others []string
	for _, id := range allBefore {
		if !slices.Contains(ids, id) && len(others) < 20 {
			others = append(others, id)
		}
	}

	// Refused creates: each must delete nothing and start no job.
	p := preview(t, f.c, query, ids, f.wantEnv)
	for _, a := range f.refusals {
		refused(t, "create_bulk_delete ("+a.name+")", a.run(t, p.PlanID, p.ConfirmationPhrase))
	}
	if len(f.refusals) > 0 {
		noJobs(t, f.c, f.wantEnv)
		for _, id := range ids[:min(10, len(ids))] {
			if !f.sb.leadExists(t, id) {
				t.Fatalf("lead %s is gone after refused creates", id)
			}
		}
		// A fresh preview: a refusal may or may not spend the plan, and the
		// person would be shown the count again anyway.
		p2 := preview(t, f.c, query, ids, f.wantEnv)
		if p2.PlanID == p.PlanID {
			t.Errorf("a second preview reused plan %s", p.PlanID)
		}
		p = p2
	}

	// The confirmed create.
	var cr createResult
	ok(t, "create_bulk_delete", f.confirm(t, p.PlanID, p.ConfirmationPhrase), &cr)
	j := decodeJob(t, cr.Job)
	if cr.Environment != f.wantEnv {
		t.Errorf("create environment = %q", cr.Environment)
	}
	if !strings.HasPrefix(j.ID, "bulkdelete_") || j.BulkObjectType != "lead" || !j.SendDoneEmail {
		t.Errorf("job id=%q bulk_object_type=%q send_done_email=%v", j.ID, j.BulkObjectType, j.SendDoneEmail)
	}
	if !slices.Contains([]string{"created", "loading", "processing", "done"}, j.status()) {
		t.Errorf("new job status = %q", j.status())
	}
	if j.ResultsLimit == nil || *j.ResultsLimit != total {
		t.Errorf("job results_limit = %v, want %d (min of requested and previewed)", j.ResultsLimit, total)
	}
	if !strings.Contains(string(j.SQuery), statID) || !strings.Contains(string(j.SQuery), `"lead"`) {
		t.Errorf("job s_query %s is not the previewed query", j.SQuery)
	}
	if b := cr.Receipt.Backup; b == nil || b.Counts["lead"] != total || !strings.HasPrefix(b.SHA256, "sha256:") || b.Path == "" {
		t.Errorf("receipt backup = %+v, want a verified backup of the %d leads", b, total)
	}
	want := receiptOut{PlanID: p.PlanID, Previewed: total, Recounted: total, ResultsLimitSent: total, ConfirmedBy: f.confirmedBy, AuditID: cr.Receipt.AuditID, IDsChecked: total,
		Backup: cr.Receipt.Backup}
	if cr.Receipt != want || cr.Receipt.AuditID == "" {
		t.Errorf("receipt = %+v, want %+v with an audit id", cr.Receipt, want)
	}

	// The same plan cannot start a second job.
	refused(t, "create_bulk_delete (plan already used)", f.confirm(t, p.PlanID, p.ConfirmationPhrase))

	// Follow the job to the end.
	var g jobResult
	deadline := time.Now().Add(90 * time.Second)
	for {
		ok(t, "get_bulk_delete", f.c.call(t, "get_bulk_delete", map[string]any{"id": j.ID}), &g)
		if g.Progress.Terminal {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s not done after 90s: %+v", j.ID, g.Progress)
		}
		time.Sleep(200 * time.Millisecond)
	}
	gj := decodeJob(t, g.Job)
	if g.Environment != f.wantEnv || gj.ID != j.ID || gj.status() != "done" {
		t.Errorf("final job: environment=%q id=%q status=%q", g.Environment, gj.ID, gj.status())
	}
	if gj.NObjects == nil || *gj.NObjects != total || gj.NObjectsProcessed != total {
		t.Errorf("final job n_objects=%v n_objects_processed=%d, want %d", gj.NObjects, gj.NObjectsProcessed, total)
	}
	if g.Progress.Processed != total || g.Progress.Total == nil || *g.Progress.Total != total ||
		g.Progress.Percent == nil || *g.Progress.Percent != 100 {
		t.Errorf("final progress = %+v, want %d of %d, 100%%", g.Progress, total, total)
	}

	// The job list, unfiltered and filtered.
	var l listResult
	ok(t, "list_bulk_deletes", f.c.call(t, "list_bulk_deletes", map[string]any{"limit": 10}), &l)
	if l.Environment != f.wantEnv || len(l.Jobs) != 1 || l.HasMore || l.NextSkip != nil {
		t.Errorf("list_bulk_deletes = %d jobs, has_more=%v next_skip=%v env=%q; want our one job", len(l.Jobs), l.HasMore, l.NextSkip, l.Environment)
	}
	for _, raw := range l.Jobs {
		if lj := decodeJob(t, raw); lj.ID != j.ID || lj.status() != "done" {
			t.Errorf("listed job %s status %q", lj.ID, lj.status())
		}
	}
	if !f.quick {
		var done, contacts listResult
		ok(t, "list_bulk_deletes status=done", f.c.call(t, "list_bulk_deletes", map[string]any{"status": "done"}), &done)
		ok(t, "list_bulk_deletes object_type=contact", f.c.call(t, "list_bulk_deletes", map[string]any{"object_type": "contact"}), &contacts)
		if len(done.Jobs) != 1 || len(contacts.Jobs) != 0 {
			t.Errorf("filtered lists: status=done → %d jobs (want 1), object_type=contact → %d (want 0)", len(done.Jobs), len(contacts.Jobs))
		}
	}

	t.Logf("job %s deleted %d Bad Fit leads (confirmed by %s); %d leads remain", j.ID, total, cr.Receipt.ConfirmedBy, allTotal-total)

	// The sandbox, seen from outside: the previewed leads are gone, the rest remain.
	for _, id := range ids {
		if f.sb.leadExists(t, id) {
			t.Errorf("lead %s matched the query and still exists", id)
		}
	}
	for _, id := range others {
		if !f.sb.leadExists(t, id) {
			t.Errorf("lead %s did not match the query and was deleted", id)
		}
	}
	if _, n := f.sb.search(t, allLeads); n != allTotal-total {
		t.Errorf("sandbox holds %d leads, want %d - %d = %d", n, allTotal, total, allTotal-total)
	}
	if !f.quick {
		var after previewResult
		ok(t, "preview_bulk_delete after", f.c.call(t, "preview_bulk_delete", map[string]any{"s_query": query}), &after)
		if after.Total != 0 || after.WillDelete != 0 || len(after.Sample) != 0 {
			t.Errorf("preview after the delete: total=%d will_delete=%d sample=%v, want nothing", after.Total, after.WillDelete, after.Sample)
		}
	}

	// The audit log: a create record for this job, no credential anywhere.
	recs := readAudit(t, f.auditLog, f.sb.apiKey, testToken)
	var created bool
	for _, r := range recs {
		if r.Principal != "" && !strings.HasPrefix(r.Principal, "cred_") {
			t.Errorf("audit principal %q is not a fingerprint", r.Principal)
		}
		if r.Event == "create" && r.JobID == j.ID {
			created = true
			if r.PlanID != p.PlanID || r.ID != cr.Receipt.AuditID || r.ObjectType != "lead" || r.Environment != f.wantEnv ||
				r.Total == nil || *r.Total != total || !strings.HasPrefix(r.QueryDigest, "sha256:") {
				t.Errorf("audit create record %+v does not match the receipt", r)
			}
		}
	}
	if !created {
		t.Errorf("audit log has no create record for %s: %+v", j.ID, recs)
	}
}
