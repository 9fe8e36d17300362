package backup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
)

// demoLead is a lead with every kind of child, as an export shows it.
func demoLead(n int) map[string]any {
	letter := "abcdefghij"[n : n+1]
	id := func(p string) string { return p + "xxx" + letter }
	cont := id("cont_") + "1"
	return map[string]any{
		"id": id("lead_"), "name": "Acme " + strings.ToUpper(letter), "display_name": "Acme", "description": "a lead",
		"url": "https://acme.example", "status_id": "stat_potential", "status_label": "Potential",
		"date_created": "2024-01-0" + "123456789"[n:n+1] + "T10:00:00.000000+00:00", "organization_id": "orga_1",
		"custom.cf_size": json.Number("12"), "num_emails": json.Number("3"),
		"addresses": []any{map[string]any{"label": "business", "city": "Berlin", "country": "DE"}},
		"contacts": []any{
			map[string]any{"id": cont, "name": "Ann", "title": "CEO", "lead_id": id("lead_"),
				"emails": []any{map[string]any{"email": "ann@acme.example", "type": "office", "is_unsubscribed": false}},
				"phones": []any{map[string]any{"phone": "+4930123", "type": "office"}}},
			map[string]any{"id": id("cont_") + "2", "name": "Bob", "lead_id": id("lead_")},
		},
		"opportunities": []any{map[string]any{"id": id("oppo_"), "status_id": "stat_active", "value": json.Number("5000"),
			"value_period": "one_time", "note": "deal", "contact_id": cont, "confidence": json.Number("50")}},
		"tasks": []any{
			map[string]any{"id": id("task_"), "_type": "lead", "text": "call back", "is_complete": false, "date": "2025-01-01"},
			map[string]any{"id": id("task_") + "e", "_type": "outgoing_email", "text": "follow up"},
		},
		"activities": []any{
			map[string]any{"id": id("acti_") + "n", "_type": "Note", "note": "met at fair", "contact_id": cont},
			map[string]any{"id": id("acti_") + "c", "_type": "Call", "direction": "outbound", "duration": json.Number("60"),
				"note": "intro call", "recording_url": "https://rec.example/1", "quality_info": map[string]any{}},
			map[string]any{"id": id("acti_") + "s", "_type": "SMS", "text": "hello", "direction": "outbound", "status": "sent"},
			map[string]any{"id": id("acti_") + "m", "_type": "Meeting", "title": "kickoff", "starts_at": "2025-02-01T10:00:00+00:00"},
			map[string]any{"id": id("acti_") + "e", "_type": "Email", "subject": "hi"},
			map[string]any{"id": id("acti_") + "l", "_type": "LeadStatusChange", "new_status_label": "Potential"},
		},
	}
}

func seeded(t *testing.T, n int) (*fakeClose, []string) {
	f := newFakeClose(t)
	var ids []string
	for i := range n {
		l := demoLead(i)
		ids = append(ids, l["id"].(string))
		f.seed(l)
	}
	return f, ids
}

func testStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "backups"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func leadRequest(ids []string) Request {
	limit := len(ids)
	return Request{PlanID: "plan_1", ObjectType: "lead", SQuery: json.RawMessage(`{"type":"object_type","object_type":"lead"}`),
		Sort: json.RawMessage(`[]`), ResultsLimit: &limit, QueryDigest: "sha256:abc", IDs: ids,
		Timeout: 5 * time.Second, PollInterval: time.Millisecond}
}

func TestTakeKeepsTheFileAsServedAndVerified(t *testing.T) {
	f, ids := seeded(t, 3)
	s := testStore(t)
	var stages []string
	req := leadRequest(ids)
	req.Progress = func(p Progress) { stages = append(stages, p.Stage+":"+p.Status) }
	m, err := s.Take(context.Background(), f.client(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != StateReady || m.ExportID == "" || !m.Compressed || m.Counts["lead"] != 3 || m.Counts["contact"] != 6 ||
		m.Counts["activity.Email"] != 3 || m.Counts["opportunity"] != 3 || m.Counts["address"] != 3 {
		t.Fatalf("manifest = %+v", m)
	}
	dir, _ := s.Path(m.ID)
	b, err := os.ReadFile(filepath.Join(dir, ExportName))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if m.SHA256 != "sha256:"+hex.EncodeToString(sum[:]) || m.Bytes != int64(len(b)) || b[0] != 0x1f || b[1] != 0x8b {
		t.Errorf("file %d bytes, sha %s; manifest %d, %s", len(b), hex.EncodeToString(sum[:]), m.Bytes, m.SHA256)
	}
	for _, name := range []string{ExportName, ManifestName} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, err %v", name, fi.Mode(), err)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("backup dir mode %v", fi.Mode().Perm())
	}
	body := f.exportBodies[0]
	for k, want := range map[string]any{"format": "json", "type": "leads", "include_activities": true, "include_smart_fields": true, "send_done_email": false, "results_limit": json.Number("3")} {
		if body[k] != want {
			t.Errorf("export body %s = %v, want %v", k, body[k], want)
		}
	}
	for _, a := range f.downloadAuth {
		if a != "" {
			t.Error("the download carried the Close credential")
		}
	}
	if len(stages) < 4 || stages[0] != "export:starting" || stages[len(stages)-1] != "verify:" {
		t.Errorf("progress = %v", stages)
	}
	got, err := s.Get(m.ID)
	if err != nil || !reflect.DeepEqual(got.IDs, ids) {
		t.Errorf("Get = %+v, %v", got, err)
	}
}

func TestTakeRefuses(t *testing.T) {
	tests := []struct {
		name  string
		fault func(f *fakeClose, ids []string)
		req   func(r *Request)
		check func(t *testing.T, err error)
	}{
		{"export fails", func(f *fakeClose, _ []string) { f.exportFail = true }, nil, func(t *testing.T, err error) {
			var fe *closeapi.ExportFailedError
			if !errors.As(err, &fe) {
				t.Errorf("err = %v", err)
			}
		}},
		{"export stalls", func(f *fakeClose, _ []string) { f.exportStall = true }, func(r *Request) { r.Timeout = 200 * time.Millisecond; r.PollInterval = 20 * time.Millisecond },
			func(t *testing.T, err error) {
				var te *closeapi.ExportTimeoutError
				var bt *TimeoutError
				if !errors.As(err, &te) && !errors.As(err, &bt) {
					t.Errorf("err = %v", err)
				}
			}},
		{"link expires before download", func(f *fakeClose, _ []string) { f.expireLinks = 100 }, nil, func(t *testing.T, err error) {
			var de *closeapi.DownloadError
			if !errors.As(err, &de) || !de.Expired {
				t.Errorf("err = %v", err)
			}
		}},
		{"one id fewer", func(f *fakeClose, ids []string) { f.exportLeads = ids[1:] }, nil, func(t *testing.T, err error) {
			var me *MismatchError
			if !errors.As(err, &me) || len(me.Missing) != 1 || len(me.Extra) != 0 || !strings.Contains(err.Error(), "1 of the 3 leads") {
				t.Errorf("err = %v", err)
			}
		}},
		{"one id more", func(f *fakeClose, ids []string) { f.exportLeads = ids }, func(r *Request) { r.IDs = r.IDs[:2] }, func(t *testing.T, err error) {
			var me *MismatchError
			if !errors.As(err, &me) || len(me.Extra) != 1 {
				t.Errorf("err = %v", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ids := seeded(t, 3)
			tc.fault(f, ids)
			req := leadRequest(ids)
			if tc.req != nil {
				tc.req(&req)
			}
			s := testStore(t)
			m, err := s.Take(context.Background(), f.client(t), req)
			if err == nil {
				t.Fatal("no error")
			}
			tc.check(t, err)
			if m == nil || m.State != StateFailed || m.Error == "" || m.File != "" {
				t.Fatalf("manifest = %+v", m)
			}
			dir, _ := s.Path(m.ID)
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != ManifestName {
					t.Errorf("a failed backup left %s", e.Name())
				}
			}
			if _, err := s.PlanRestore(m.ID); err == nil {
				t.Error("a failed backup can be restored")
			}
		})
	}
}

func TestTakeContacts(t *testing.T) {
	f, _ := seeded(t, 3)
	s := testStore(t)
	contacts := []string{"cont_xxxa1", "cont_xxxc2"}
	m, err := s.Take(context.Background(), f.client(t), Request{ObjectType: "contact", SQuery: json.RawMessage(`{"type":"object_type","object_type":"contact"}`),
		IDs: contacts, Timeout: 5 * time.Second, PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"cont_xxxa1": "lead_xxxa", "cont_xxxc2": "lead_xxxc"}
	if !reflect.DeepEqual(m.LeadOf, want) || m.Counts["lead"] != 2 || m.Counts["contact_deleted"] != 2 {
		t.Fatalf("manifest = %+v", m)
	}
	if q := string(m.ExportQuery); !strings.Contains(q, `"value":"lead_xxxa"`) || !strings.Contains(q, `"value":"lead_xxxc"`) || strings.Contains(q, "lead_xxxb") {
		t.Errorf("export query = %s", q)
	}
	p, err := s.PlanRestore(m.ID)
	if err != nil || p.Phrase != "RESTORE 2 CONTACTS" || p.Create["contact"] != 2 || p.Create["lead"] != 0 {
		t.Fatalf("plan = %+v, %v", p, err)
	}
	// The delete takes the contacts; the restore puts them back on their leads.
	f.mu.Lock()
	for lid, cid := range map[string]string{"lead_xxxa": "cont_xxxa1", "lead_xxxc": "cont_xxxc2"} {
		var keep []any
		for _, c := range objects(f.leads[lid]["contacts"]) {
			if c["id"] != cid {
				keep = append(keep, c)
			}
		}
		f.leads[lid]["contacts"] = keep
	}
	f.mu.Unlock()
	res, err := s.Restore(context.Background(), f.client(t), m.ID, RestoreOptions{})
	if err != nil || res.Created["contact"] != 2 || res.State != StateRestored {
		t.Fatalf("restore = %+v, %v", res, err)
	}
	names := map[string]int{}
	for _, c := range objects(f.leads["lead_xxxa"]["contacts"]) {
		names[str(c, "name")]++
	}
	if names["Ann"] != 1 || names["Bob"] != 1 {
		t.Errorf("contacts of lead_xxxa = %v", names)
	}
	// The opportunity and the note that named Ann name the restored Ann.
	var ann string
	for _, c := range objects(f.leads["lead_xxxa"]["contacts"]) {
		if str(c, "name") == "Ann" {
			ann = str(c, "id")
		}
	}
	relinked := 0
	for _, o := range f.children["lead_xxxa"] {
		if str(o, "contact_id") == ann {
			relinked++
		}
	}
	if ann == "cont_xxxa1" || relinked != 2 || res.Created["relink"] != 2 {
		t.Errorf("restored Ann %s is named by %d objects (want 2); created %v", ann, relinked, res.Created)
	}
}

func TestPlanRestore(t *testing.T) {
	f, ids := seeded(t, 2)
	s := testStore(t)
	m, err := s.Take(context.Background(), f.client(t), leadRequest(ids))
	if err != nil {
		t.Fatal(err)
	}
	before := len(f.requests)
	p, err := s.PlanRestore(m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != before {
		t.Error("the dry run sent requests")
	}
	want := map[string]int{"lead": 2, "contact": 4, "address": 2, "opportunity": 2, "task": 2, "note": 2, "call": 2, "sms": 2, "meeting": 2}
	if !reflect.DeepEqual(p.Create, want) {
		t.Errorf("create = %v, want %v", p.Create, want)
	}
	wantNot := map[string]int{"activity.Email": 2, "activity.LeadStatusChange": 2, "task.outgoing_email": 2, "call_recording": 2}
	if !reflect.DeepEqual(p.NotRestored, wantNot) {
		t.Errorf("not restored = %v, want %v", p.NotRestored, wantNot)
	}
	if p.Phrase != "RESTORE 2 LEADS" || p.Units != 2 || p.Requests != 14 || len(p.Cannot) < 5 {
		t.Errorf("plan = %+v", p)
	}
}

func TestRestoreBringsBackEveryRestorableField(t *testing.T) {
	f, ids := seeded(t, 3)
	original := f.snapshot()
	s := testStore(t)
	c := f.client(t)
	m, err := s.Take(context.Background(), c, leadRequest(ids))
	if err != nil {
		t.Fatal(err)
	}
	f.deleteLeads("bulkdelete_1", ids...)
	if len(f.snapshot()) != 0 {
		t.Fatal("the delete left leads")
	}
	var steps []RestoreStep
	res, err := s.Restore(context.Background(), c, m.ID, RestoreOptions{Progress: func(st RestoreStep) { steps = append(steps, st) }})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.snapshot(); !reflect.DeepEqual(got, original) {
		t.Fatalf("restored org differs:\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(original, "\n"))
	}
	if res.State != StateRestored || len(res.Leads) != 3 || res.Created["lead"] != 3 || res.Created["contact"] != 6 || len(res.Failed) != 0 {
		t.Errorf("result = %+v", res)
	}
	if len(steps) != 21 || steps[20].Done != 21 || steps[20].Total != 21 {
		t.Errorf("%d steps, last %+v", len(steps), steps[len(steps)-1])
	}
	if got, _ := s.Get(m.ID); got.State != StateRestored || got.Restored == nil {
		t.Errorf("manifest after restore = %+v", got)
	}
	// Run again: everything is in the journal, nothing is sent.
	creates := f.creates
	res, err = s.Restore(context.Background(), c, m.ID, RestoreOptions{})
	if err != nil || f.creates != creates || res.Skipped != 21 {
		t.Errorf("second run: %d creates, result %+v, err %v", f.creates-creates, res, err)
	}
	p, _ := s.PlanRestore(m.ID)
	if len(p.Create) != 0 || p.AlreadyRestored["lead"] != 3 || p.Phrase != "RESTORE 3 LEADS" {
		t.Errorf("plan after restore = %+v", p)
	}
}

func TestRestoreInterruptedAndRetriedMakesNoDuplicates(t *testing.T) {
	tests := []struct {
		name      string
		interrupt func(f *fakeClose, cancel context.CancelFunc) func(RestoreStep)
	}{
		{"answer lost after Close made a lead", func(f *fakeClose, _ context.CancelFunc) func(RestoreStep) {
			f.loseAnswerAt = 8 // the second lead
			return nil
		}},
		{"answer lost after Close made a note", func(f *fakeClose, _ context.CancelFunc) func(RestoreStep) {
			f.loseAnswerAt = 4
			return nil
		}},
		{"stopped half-way", func(f *fakeClose, cancel context.CancelFunc) func(RestoreStep) {
			return func(st RestoreStep) {
				if st.Done == 10 {
					cancel()
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ids := seeded(t, 3)
			original := f.snapshot()
			s := testStore(t)
			c := f.client(t)
			m, err := s.Take(context.Background(), c, leadRequest(ids))
			if err != nil {
				t.Fatal(err)
			}
			f.deleteLeads("bulkdelete_1", ids...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			progress := tc.interrupt(f, cancel)
			res, err := s.Restore(ctx, c, m.ID, RestoreOptions{Progress: progress})
			if err == nil || res.State != StatePartial {
				t.Fatalf("first run: %+v, %v", res, err)
			}
			if !strings.Contains(err.Error(), "run it again") {
				t.Errorf("err = %v", err)
			}
			p, err := s.PlanRestore(m.ID)
			if err != nil || p.Phrase != "RESTORE 3 LEADS" {
				t.Fatalf("plan = %+v, %v", p, err)
			}
			f.loseAnswerAt = 0
			if _, err := s.Restore(context.Background(), c, m.ID, RestoreOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := f.snapshot(); !reflect.DeepEqual(got, original) {
				t.Fatalf("after the retry the org differs (duplicates or gaps):\n got %s\nwant %s", strings.Join(got, "\n"), strings.Join(original, "\n"))
			}
			if f.creates != 21 {
				t.Errorf("%d creates reached Close, want 21", f.creates)
			}
		})
	}
}

func TestRestoreRecordsRefusalsAndRetriesThem(t *testing.T) {
	f, ids := seeded(t, 2)
	s := testStore(t)
	c := f.client(t)
	m, err := s.Take(context.Background(), c, leadRequest(ids))
	if err != nil {
		t.Fatal(err)
	}
	f.deleteLeads("bulkdelete_1", ids...)
	f.refuseCreate = func(path string, body map[string]any) bool { return path == "/api/v1/opportunity/" }
	res, err := s.Restore(context.Background(), c, m.ID, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StatePartial || len(res.Failed) != 2 || res.Failed[0].Kind != "opportunity" || !strings.Contains(res.Failed[0].Error, "Not a member") {
		t.Fatalf("result = %+v", res)
	}
	f.refuseCreate = nil
	res, err = s.Restore(context.Background(), c, m.ID, RestoreOptions{})
	if err != nil || res.Created["opportunity"] != 2 || res.Skipped != 12 || res.State != StateRestored {
		t.Errorf("retry: %+v, %v", res, err)
	}
}

func TestFromEventLog(t *testing.T) {
	f, ids := seeded(t, 3)
	original := f.snapshot()
	c := f.client(t)
	f.deleteLeads("bulkdelete_other", ids[2])
	f.deleteLeads("bulkdelete_1", ids[:2]...)
	s := testStore(t)
	m, err := s.FromEventLog(context.Background(), c, EventLogRequest{JobID: "bulkdelete_1", ObjectType: "lead"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != SourceEventLog || len(m.IDs) != 2 || m.Counts["lead"] != 2 || m.Counts["contact"] != 4 || len(m.Missing) == 0 {
		t.Fatalf("manifest = %+v", m)
	}
	p, err := s.PlanRestore(m.ID)
	if err != nil || p.Phrase != "RESTORE 2 LEADS" || !strings.Contains(strings.Join(p.Cannot, "\n"), "previous_data") {
		t.Fatalf("plan = %+v, %v", p, err)
	}
	if _, err := s.Restore(context.Background(), c, m.ID, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	// The two leads of job 1 are back with every restorable field; the third, deleted by
	// another job, is not.
	got := f.snapshot()
	if len(got) != 2 {
		t.Fatalf("%d leads after restore", len(got))
	}
	for _, g := range got {
		found := false
		for _, o := range original {
			if g == o {
				found = true
			}
		}
		if !found {
			t.Errorf("restored lead matches no original:\n%s", g)
		}
	}
	if _, err := s.FromEventLog(context.Background(), c, EventLogRequest{JobID: "bulkdelete_none", ObjectType: "lead"}); err == nil || !strings.Contains(err.Error(), "no deleted leads") {
		t.Errorf("unknown job: err = %v", err)
	}
}

func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "b")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("an open directory was left %v", fi.Mode().Perm())
	}
	lazy := filepath.Join(t.TempDir(), "not", "yet")
	ls, err := Open(lazy)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := ls.List(); err != nil || len(l) != 0 {
		t.Errorf("List of a store never written = %v, %v", l, err)
	}
	if _, err := os.Stat(lazy); err == nil {
		t.Error("opening a store made its directory")
	}
	base := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	var made []string
	for i := range 3 {
		s.now = func() time.Time { return base.Add(time.Duration(i) * time.Minute) }
		m := &Manifest{State: StateReady, ObjectType: "lead"}
		if err := s.create(m); err != nil {
			t.Fatal(err)
		}
		made = append(made, m.ID)
	}
	if err := s.SetJob(made[1], "bulkdelete_abc"); err != nil {
		t.Fatal(err)
	}
	list, err := s.List()
	if err != nil || len(list) != 3 || list[0].ID != made[2] || list[2].ID != made[0] {
		t.Fatalf("list = %+v, %v", list, err)
	}
	if m, err := s.Find("bulkdelete_abc"); err != nil || m.ID != made[1] {
		t.Errorf("find by job = %+v, %v", m, err)
	}
	for _, bad := range []string{"../etc", "bkp_x", "lead_1", ""} {
		if _, err := s.Find(bad); err == nil {
			t.Errorf("Find(%q) did not fail", bad)
		}
	}
	if _, err := s.Find("bulkdelete_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
	t.Setenv("XDG_STATE_HOME", "/var/state")
	if d, _ := DefaultDir(); d != "/var/state/bulkguard/backups" {
		t.Errorf("DefaultDir = %s", d)
	}
}

func TestJournalSurvivesATornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), JournalName)
	j, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.record(entry{Op: opDone, Kind: "lead", Old: "lead_a", New: "lead_b"}); err != nil {
		t.Fatal(err)
	}
	_ = j.close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	_, _ = f.WriteString(`{"op":"begin","kind":"lead","ol`)
	_ = f.Close()
	j, err = openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	if e := j.get("lead", "lead_a"); e == nil || e.New != "lead_b" {
		t.Errorf("entry = %+v", e)
	}
	if err := j.record(entry{Op: opBegin, Kind: "note", Old: "acti_1"}); err != nil {
		t.Fatal(err)
	}
	_ = j.close()
	b, _ := os.ReadFile(path)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], `{"op":"begin","kind":"note"`) {
		t.Errorf("journal = %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", fi.Mode().Perm())
	}
}
