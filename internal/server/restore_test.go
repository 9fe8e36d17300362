package server

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/tools"
)

// The proof of docs/close-backup.md end to end, over real HTTP on the sandbox: preview → create
// with a backup → job done → restore → the organization equals the original in every
// restorable field (compared by content, ids mapped).

type orgEnv struct {
	backupEnv
	cl *closeapi.Client
}

func newOrgEnv(t *testing.T, leads int) *orgEnv {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Seed: 5, Leads: leads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	hs := httptest.NewServer(sb)
	t.Cleanup(hs.Close)
	e := &orgEnv{backupEnv: backupEnv{sb: sb, auditLog: filepath.Join(t.TempDir(), "audit.jsonl"), dir: filepath.Join(t.TempDir(), "backups")}}
	s, cleanup, err := New(Config{AuditLog: e.auditLog, BackupDir: e.dir,
		Backend: &Backend{BaseURL: hs.URL + "/api/v1", APIKey: sb.APIKey(), Environment: EnvSandbox},
		Policy:  guards.Policy{Confirm: guards.ConfirmPhrase}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	e.srv, e.cl = s, s.Client()
	c, err := client.NewInProcessClient(s.MCP())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	testkit.Initialize(t, c, "restore-test", 30*time.Second)
	e.c = c
	return e
}

// snapshot is every lead of the organization as a restore would bring it back, read through
// an export of all leads. Two things the sandbox does not keep when a client writes them are
// left out of the comparison: date_created (Close keeps it on a lead create, docs/close-backup.md
// §3) and contacts' custom fields (bulkguard sends them nested in the lead, as Close documents;
// the sandbox's contact writes ignore custom fields).
func (e *orgEnv) snapshot(t *testing.T) []string {
	t.Helper()
	s, err := backup.Open(filepath.Join(t.TempDir(), "snap"))
	if err != nil {
		t.Fatal(err)
	}
	ids := e.sb.LeadIDs()
	q := testkit.IDQuery(ids)
	raw, _ := json.Marshal(q)
	m, err := s.Take(context.Background(), e.cl, backup.Request{ObjectType: "lead", SQuery: raw, IDs: ids, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	leads, err := s.ReadLeads(m)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(leads))
	for i, l := range leads {
		out[i] = backup.Describe(l, "date_created", "contact:custom.*")
	}
	sort.Strings(out)
	return out
}

func sameOrg(t *testing.T, got, want []string) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%d leads, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("the organization differs from the original:\n got %s\nwant %s", got[i], want[i])
		}
	}
}

func (e *orgEnv) deleteLast(t *testing.T, n int) (job string, receipt map[string]any) {
	t.Helper()
	_, plan, phrase := e.previewLast(t, n)
	before := e.sb.NumLeads()
	res, out := e.call(t, tools.ToolCreate, map[string]any{"plan_id": plan, "confirm": phrase})
	if res.IsError {
		t.Fatalf("create: %s", testkit.ResultText(res))
	}
	waitFor(t, func() bool { return e.sb.NumLeads() == before-n })
	receipt, _ = out["receipt"].(map[string]any)
	return out["job"].(map[string]any)["id"].(string), receipt
}

func TestRestoreBringsTheOrganizationBack(t *testing.T) {
	e := newOrgEnv(t, 40)
	original := e.snapshot(t)
	job, receipt := e.deleteLast(t, 8)
	if receipt["backup"] == nil {
		t.Fatalf("no backup in the receipt: %v", receipt)
	}

	res, out := e.call(t, tools.ToolRestore, map[string]any{"backup": job})
	if res.IsError || out["dry_run"] != true {
		t.Fatalf("dry run: %s", testkit.ResultText(res))
	}
	plan := out["plan"].(map[string]any)
	if plan["phrase"] != "RESTORE 8 LEADS" || !strings.Contains(testkit.ResultText(res), "Dry run, nothing changed") {
		t.Fatalf("dry run: %s", testkit.ResultText(res))
	}
	if e.sb.NumLeads() != 32 {
		t.Fatal("the dry run created something")
	}
	res, _ = e.call(t, tools.ToolRestore, map[string]any{"backup": job, "confirm": "RESTORE 9 LEADS"})
	if !res.IsError || !strings.Contains(testkit.ResultText(res), "confirmation_mismatch") {
		t.Fatalf("a wrong phrase: %s", testkit.ResultText(res))
	}
	res, out = e.call(t, tools.ToolRestore, map[string]any{"backup": job, "confirm": "RESTORE 8 LEADS"})
	if res.IsError {
		t.Fatalf("restore: %s", testkit.ResultText(res))
	}
	if r := out["result"].(map[string]any); r["state"] != backup.StateRestored {
		t.Fatalf("restore result: %v", r)
	}
	sameOrg(t, e.snapshot(t), original)

	// Every step is on the audit record.
	steps := 0
	for _, r := range auditEvents(t, e.auditLog) {
		if r["event"] == guards.EventRestoreStep {
			steps++
		}
	}
	if want := int(plan["requests"].(float64)); steps != want {
		t.Errorf("%d restore steps audited, want %d", steps, want)
	}
	list, _ := e.call(t, tools.ToolListBackups, map[string]any{})
	if !strings.Contains(testkit.ResultText(list), backup.StateRestored) {
		t.Errorf("list_backups: %s", testkit.ResultText(list))
	}
}

func TestRestoreInterruptedHalfWayAndRetried(t *testing.T) {
	e := newOrgEnv(t, 30)
	original := e.snapshot(t)
	job, _ := e.deleteLast(t, 6)
	store, err := backup.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := store.Find(job)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := store.Restore(ctx, e.cl, m.ID, backup.RestoreOptions{Progress: func(st backup.RestoreStep) {
		if st.Done == st.Total/2 {
			cancel()
		}
	}})
	if err == nil || res.State != backup.StatePartial {
		t.Fatalf("interrupted restore: %+v, %v", res, err)
	}
	if e.sb.NumLeads() >= 30 {
		t.Fatalf("the interrupted half restored %d leads", e.sb.NumLeads()-24)
	}
	r, out := e.call(t, tools.ToolRestore, map[string]any{"backup": m.ID, "confirm": "RESTORE 6 LEADS"})
	if r.IsError {
		t.Fatalf("retry: %s", testkit.ResultText(r))
	}
	if got := out["result"].(map[string]any)["skipped"].(float64); got == 0 {
		t.Error("the retry skipped nothing the first half had made")
	}
	sameOrg(t, e.snapshot(t), original)
}

func TestRestoreContacts(t *testing.T) {
	e := newOrgEnv(t, 30)
	original := e.snapshot(t)
	limit := 3
	q := json.RawMessage(`{"type":"and","queries":[{"type":"object_type","object_type":"contact"}]}`)
	resp, err := e.cl.Search(context.Background(), closeapi.SearchRequest{Query: q, ResultsLimit: &limit, Limit: limit,
		Fields: map[string][]string{"contact": {"id", "lead_id"}}})
	if err != nil || len(resp.Data) != 3 {
		t.Fatalf("contacts: %v, %v", resp, err)
	}
	var or []any
	for _, row := range resp.Data {
		or = append(or, map[string]any{"type": "id", "value": row["id"]})
	}
	query := map[string]any{"type": "and", "queries": []any{map[string]any{"type": "object_type", "object_type": "contact"}, map[string]any{"type": "or", "queries": or}}}
	res, out := e.call(t, tools.ToolPreview, map[string]any{"s_query": query})
	if res.IsError || out["will_delete"] != float64(3) {
		t.Fatalf("preview: %s", testkit.ResultText(res))
	}
	before := e.sb.NumContacts()
	res, out = e.call(t, tools.ToolCreate, map[string]any{"plan_id": out["plan_id"], "confirm": out["confirmation_phrase"]})
	if res.IsError {
		t.Fatalf("create: %s", testkit.ResultText(res))
	}
	waitFor(t, func() bool { return e.sb.NumContacts() == before-3 })
	job := out["job"].(map[string]any)["id"].(string)
	res, out = e.call(t, tools.ToolRestore, map[string]any{"backup": job})
	if res.IsError || out["plan"].(map[string]any)["phrase"] != "RESTORE 3 CONTACTS" {
		t.Fatalf("dry run: %s", testkit.ResultText(res))
	}
	res, _ = e.call(t, tools.ToolRestore, map[string]any{"backup": job, "confirm": "RESTORE 3 CONTACTS"})
	if res.IsError {
		t.Fatalf("restore: %s", testkit.ResultText(res))
	}
	// A restored contact comes back at the end of its lead's contacts, so lines are compared
	// without their order.
	sameOrg(t, unordered(e.snapshot(t)), unordered(original))
}

func unordered(leads []string) []string {
	out := make([]string, len(leads))
	for i, l := range leads {
		lines := strings.Split(l, "\n")
		sort.Strings(lines)
		out[i] = strings.Join(lines, "\n")
	}
	sort.Strings(out)
	return out
}

// A delete made without bulkguard has no backup: the restore reads the job's deleted events
// from Close's event log.
func TestRestoreFromTheEventLog(t *testing.T) {
	e := newOrgEnv(t, 30)
	original := e.snapshot(t)
	ids, q := testkit.LastLeads(t, e.sb.LeadIDs(), 5)
	raw, _ := json.Marshal(q)
	limit := len(ids)
	job, err := e.cl.CreateBulkDelete(context.Background(), closeapi.BulkDeleteRequest{SQuery: raw, ResultsLimit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return e.sb.NumLeads() == 25 })
	res, out := e.call(t, tools.ToolRestore, map[string]any{"backup": job.ID})
	if res.IsError || out["plan"].(map[string]any)["phrase"] != "RESTORE 5 LEADS" || out["plan"].(map[string]any)["source"] != backup.SourceEventLog {
		t.Fatalf("dry run: %s", testkit.ResultText(res))
	}
	if !strings.Contains(testkit.ResultText(res), "previous_data") {
		t.Errorf("the dry run does not say what the event log lacks: %s", testkit.ResultText(res))
	}
	res, _ = e.call(t, tools.ToolRestore, map[string]any{"backup": job.ID, "confirm": "RESTORE 5 LEADS"})
	if res.IsError {
		t.Fatalf("restore: %s", testkit.ResultText(res))
	}
	sameOrg(t, e.snapshot(t), original)
}
