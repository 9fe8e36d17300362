package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
)

// apiSandbox serves a sandbox over real HTTP, as `bulkguard sandbox` does,
// and returns it with its API base URL.
func apiSandbox(t *testing.T, o sandbox.Options) (*sandbox.Server, string) {
	t.Helper()
	sb, err := sandbox.New(o)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	hs := httptest.NewServer(sb)
	t.Cleanup(func() { hs.Close(); sb.Close() })
	return sb, hs.URL + "/api/v1"
}

// closedURL is an API base URL on a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return "http://" + addr + "/api/v1"
}

// TestDoctor runs the checks against the built-in sandbox, a sandbox
// reached with --close-url (a good and a bad key), an unreachable URL and
// an audit log path that cannot be created, and checks the variables part.
func TestDoctor(t *testing.T) {
	_, url := apiSandbox(t, sandbox.Options{Seed: 3, Leads: 20})
	dir := t.TempDir()
	audit := filepath.Join(dir, "state", "audit.jsonl")
	blocker := filepath.Join(dir, "a-file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const token = "doctor-must-never-print-this"
	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		want   []string
		reject []string
	}{
		{"built-in sandbox", []string{"BULKGUARD_SANDBOX_LEADS=15"}, nil, 0,
			[]string{"ok    configuration", "built-in sandbox serves (CLOSE_API_KEY is not set), in memory with 15 leads", "ok    audit log", "ok    backups", "BULKGUARD_SANDBOX_LEADS", `"15" → --leads`, "All checks passed."}, nil},
		{"backup directory cannot be created", nil, []string{"--backup-dir", filepath.Join(blocker, "backups")}, 1,
			[]string{"FAIL  backups", "cannot be created"}, nil},
		{"backups off", nil, []string{"--backup", "off"}, 0,
			[]string{"WARN  backups", "no backup is taken before a delete"}, nil},
		{"key accepted by a sandbox URL", []string{"CLOSE_API_KEY=" + sandbox.DemoAPIKey}, []string{"--close-url", url}, 0,
			[]string{"ok    Close          " + url + " (a bulkguard sandbox", "ok    Close key      accepted", "cred_", "@sandbox-demo.example", "CLOSE_API_KEY                        set (not shown)"},
			[]string{sandbox.DemoAPIKey}},
		{"key refused", []string{"CLOSE_API_KEY=api_wrong_key_123"}, []string{"--close-url", url}, 1,
			[]string{"FAIL  Close key", "refused the key in CLOSE_API_KEY (401", "Some checks failed"}, []string{"api_wrong_key_123"}},
		{"Close unreachable", []string{"CLOSE_API_KEY=api_some_key_456"}, []string{"--close-url", closedURL(t)}, 1,
			[]string{"FAIL  Close", "/me/ failed"}, []string{"api_some_key_456"}},
		{"audit log cannot be created", nil, []string{"--audit-log", filepath.Join(blocker, "audit.jsonl")}, 1,
			[]string{"FAIL  audit log", "cannot be created"}, nil},
		{"unknown and secret variables", []string{"BULKGUARD_MAX_OBJETS=5", "BULKGUARD_LEADS=9", "BULKGUARD_HTTP_TOKEN=" + token}, nil, 0,
			[]string{"WARN  variable       BULKGUARD_MAX_OBJETS is set but no bulkguard command reads it; did you mean BULKGUARD_MAX_OBJECTS?",
				"did you mean BULKGUARD_SANDBOX_LEADS?", "BULKGUARD_HTTP_TOKEN                 set (not shown)"}, []string{token}},
		{"seal key is read, never shown", []string{"BULKGUARD_SEAL_KEY=" + strings.Repeat("ab", 32)}, nil, 0,
			[]string{"BULKGUARD_SEAL_KEY                   set (not shown)"}, []string{strings.Repeat("ab", 32), "WARN  variable"}},
		{"flag wins over variable", []string{"BULKGUARD_MAX_OBJECTS=50"}, []string{"--max-objects", "7"}, 0,
			[]string{`"50" → --max-objects (ignored: --max-objects is on the command line)`}, nil},
		{"bad variable is a failed check naming it", []string{"BULKGUARD_PLAN_TTL=3"}, nil, 1,
			[]string{"FAIL  configuration  invalid value \"3\" for BULKGUARD_PLAN_TTL (--plan-ttl)", "want a duration such as"}, nil},
		{"HTTP without a token", nil, []string{"--transport", "http", "--listen", "127.0.0.1:0"}, 0,
			[]string{"ok    listen", "WARN  http token"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"BULKGUARD_AUDIT_LOG=" + audit, "BULKGUARD_BACKUP_DIR=" + filepath.Join(dir, "state", "backups")}, tc.env...)
			var stdout, stderr bytes.Buffer
			code := runDoctor(context.Background(), tc.args, env, &stdout, &stderr)
			out := stdout.String()
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(out+stderr.String(), r) {
					t.Errorf("output contains %q:\n%s", r, out)
				}
			}
		})
	}
	// Doctor created the audit log's directory, never the log itself.
	if _, err := os.Stat(audit); !os.IsNotExist(err) {
		t.Errorf("doctor created %s (stat: %v)", audit, err)
	}
	var stdout, stderr bytes.Buffer
	if code := runDoctor(context.Background(), []string{"--no-such-flag"}, nil, &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "no-such-flag") {
		t.Errorf("unknown flag: exit %d, stderr %q", code, stderr.String())
	}
}

// writeAuditLog writes records through the guard's own audit log.
func writeAuditLog(t *testing.T, recs []guards.AuditRecord) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := guards.OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if _, err := log.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func intp(v int) *int { return &v }

// TestAuditCommand filters a log written by the guard's AuditLog by job
// (with its plan's earlier records), plan, event and time, as a table and
// as JSON lines.
func TestAuditCommand(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	path := writeAuditLog(t, []guards.AuditRecord{
		{Time: now.Add(-50 * time.Hour), Event: guards.EventPreview, PlanID: "plan_old", ObjectType: "lead", Total: intp(3), WillDelete: intp(3), Summary: "old leads"},
		{Time: now.Add(-3 * time.Hour), Event: guards.EventPreview, PlanID: "plan_A", Environment: "sandbox", ObjectType: "lead", Total: intp(9), WillDelete: intp(9), Summary: "ACME duplicates"},
		{Time: now.Add(-2 * time.Hour), Event: guards.EventCreateIntent, PlanID: "plan_A", ObjectType: "lead"},
		{Time: now.Add(-2 * time.Hour), Event: guards.EventCreate, PlanID: "plan_A", JobID: "bulkdelete_A", Recounted: intp(9), ResultsLimitSent: intp(9), Outcome: "sent"},
		{Time: now.Add(-1 * time.Hour), Event: guards.EventRefusal, PlanID: "plan_B", Code: "confirmation_mismatch", Reason: "typed DELETE 4 LEADS"},
		{Time: now.Add(-30 * time.Minute), Event: guards.EventPause, JobID: "bulkdelete_A", Outcome: "paused"},
	})
	tests := []struct {
		name  string
		args  []string
		plans []string // plan or job ids of the records shown, in order
	}{
		{"all", nil, []string{"plan_old", "plan_A", "plan_A", "plan_A", "plan_B", "bulkdelete_A"}},
		{"job with its plan", []string{"--job", "bulkdelete_A"}, []string{"plan_A", "plan_A", "plan_A", "bulkdelete_A"}},
		{"plan", []string{"--plan", "plan_B"}, []string{"plan_B"}},
		{"event", []string{"--event", "preview"}, []string{"plan_old", "plan_A"}},
		{"since a duration", []string{"--since", "24h"}, []string{"plan_A", "plan_A", "plan_A", "plan_B", "bulkdelete_A"}},
		{"since and until times", []string{"--since", "2026-11-30T09:30:00Z", "--until", "2026-11-30T11:00"}, []string{"plan_A", "plan_A"}}, // until excludes the 11:00 refusal
		{"until a date", []string{"--until", "2026-11-29"}, []string{"plan_old"}},
		{"nothing", []string{"--plan", "plan_none"}, nil},
	}
	for _, tc := range tests {
		for _, asJSON := range []bool{false, true} {
			name := tc.name
			args := append([]string{"--audit-log", path}, tc.args...)
			if asJSON {
				name += "/json"
				args = append(args, "--json")
			}
			t.Run(name, func(t *testing.T) {
				var stdout, stderr bytes.Buffer
				if code := runAudit(args, lookupEnv(nil), now, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				var got []string
				for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
					if line == "" || strings.Contains(line, " records in ") {
						continue
					}
					if asJSON {
						var r guards.AuditRecord
						if err := json.Unmarshal([]byte(line), &r); err != nil {
							t.Fatalf("not a JSON line: %q", line)
						}
						if r.JobID != "" && r.PlanID == "" {
							got = append(got, r.JobID)
						} else {
							got = append(got, r.PlanID)
						}
						continue
					}
					f := strings.Fields(line)
					// date, time, event, [environment], "plan"|"job", id, …
					for i := 0; i+1 < len(f); i++ {
						if f[i] == "plan" || f[i] == "job" {
							got = append(got, f[i+1])
							break
						}
					}
				}
				if strings.Join(got, " ") != strings.Join(tc.plans, " ") {
					t.Fatalf("records %v, want %v\n%s", got, tc.plans, stdout.String())
				}
			})
		}
	}

	var stdout, stderr bytes.Buffer
	if code := runAudit([]string{"--audit-log", path, "--job", "bulkdelete_A"}, lookupEnv(nil), now, &stdout, &stderr); code != 0 {
		t.Fatal(stderr.String())
	}
	for _, w := range []string{"2026-11-30 09:00:00Z  preview", "[sandbox]", "matched 9", "will delete 9", `"ACME duplicates"`, "recounted 9", "limit sent 9", "→ sent", "4 of 6 records"} {
		if !strings.Contains(stdout.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, stdout.String())
		}
	}

	errs := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"missing log", nil, []string{"--audit-log", filepath.Join(t.TempDir(), "none.jsonl")}, 1, "no audit log at"},
		{"bad since", nil, []string{"--audit-log", path, "--since", "yesterday"}, exitUsage, "--since \"yesterday\": want a time such as 2026-11-30"},
		{"bad event", nil, []string{"--audit-log", path, "--event", "delete"}, exitUsage, "want one of preview, create.intent, create"},
		{"until before since", nil, []string{"--audit-log", path, "--since", "1h", "--until", "2h"}, exitUsage, "is not after --since"},
		{"log from the variable", []string{"BULKGUARD_AUDIT_LOG=" + path}, []string{"--plan", "plan_B"}, 0, ""},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runAudit(tc.args, lookupEnv(tc.env), now, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q, want %q", code, tc.code, stderr.String(), tc.want)
			}
		})
	}
}

// acmeFile matches the demo organization's "ACME Inc." duplicates.
const acmeFile = `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"text","mode":"phrase","value":"acme inc"}]}`

// TestPreviewCommand dry-runs query files on the built-in sandbox: a bare
// s_query, preview arguments, stdin, and files the guard refuses.
func TestPreviewCommand(t *testing.T) {
	dir := t.TempDir()
	audit := filepath.Join(dir, "audit.jsonl")
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := []string{"BULKGUARD_AUDIT_LOG=" + audit, "BULKGUARD_SANDBOX_LEADS=300"}
	tests := []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  []string
		where string // "stdout" or "stderr"
	}{
		{"bare s_query", []string{write("q.json", acmeFile)}, "", 0,
			[]string{"Dry run on sandbox: nothing was deleted.", "Query:", "Matches:", "leads", "Sample (", "Executable: yes", "DELETE "}, "stdout"},
		{"preview arguments", []string{write("args.json", `{"s_query":`+acmeFile+`,"sample_size":1}`)}, "", 0,
			[]string{"Sample (1 of "}, "stdout"},
		{"stdin", []string{"-"}, acmeFile, 0, []string{"Matches:"}, "stdout"},
		{"policy cap", []string{"--max-objects", "1", write("q2.json", acmeFile)}, "", 0,
			[]string{"Executable: no ("}, "stdout"},
		{"json", []string{"--json", write("q3.json", acmeFile)}, "", 0, []string{`"environment":"sandbox"`, `"plan_id":"plan_`}, "stdout"},
		{"no object type", []string{write("bad.json", `{"type":"text","mode":"phrase","value":"x"}`)}, "", 1,
			[]string{"Nothing was deleted"}, "stderr"},
		{"not JSON", []string{write("bad2.json", `object_type: lead`)}, "", 1, []string{"want a JSON object"}, "stderr"},
		{"missing file", []string{filepath.Join(dir, "none.json")}, "", 1, []string{"no such file"}, "stderr"},
		{"no file named", nil, "", exitUsage, []string{"name the query file"}, "stderr"},
		{"bad policy variable", []string{write("q4.json", acmeFile)}, "", exitUsage, []string{"BULKGUARD_MAX_OBJECTS"}, "stderr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := env
			if tc.name == "bad policy variable" {
				e = append(e, "BULKGUARD_MAX_OBJECTS=many")
			}
			var stdout, stderr bytes.Buffer
			code := runPreview(context.Background(), tc.args, lookupEnv(e), strings.NewReader(tc.stdin), &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			if tc.where == "stderr" {
				out = stderr.String()
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("%s lacks %q:\n%s", tc.where, w, out)
				}
			}
		})
	}
	// Every dry run left a preview record and nothing else.
	recs, err := guards.ReadAuditLog(audit)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("no audit records of the previews")
	}
	for _, r := range recs {
		if r.Event != guards.EventPreview && r.Event != guards.EventRefusal {
			t.Errorf("a dry run wrote a %s record: %+v", r.Event, r)
		}
	}
}

// TestWatchCommand follows a real job on a sandbox served over HTTP until
// it is done: one line per change without a terminal, ending at 100%.
func TestWatchCommand(t *testing.T) {
	sb, url := apiSandbox(t, sandbox.Options{Seed: 5, Leads: 100, DeleteRate: 20, BatchSize: 1})
	cl, err := closeapi.New(closeapi.Options{BaseURL: url, APIKey: sandbox.DemoAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	_, q := testkit.LastLeads(t, sb.LeadIDs(), 20)
	raw, err := json.Marshal(q)
	if err != nil {
		t.Fatal(err)
	}
	job, err := cl.CreateBulkDelete(context.Background(), closeapi.BulkDeleteRequest{SQuery: raw, ResultsLimit: intp(20)})
	if err != nil {
		t.Fatal(err)
	}
	env := lookupEnv([]string{"CLOSE_API_KEY=" + sandbox.DemoAPIKey, "BULKGUARD_CLOSE_URL=" + url})
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if code := runWatch(ctx, []string{"--interval", "100ms", job.ID}, env, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, stderr.String(), stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) < 2 {
		t.Fatalf("want a line per change of a running job, got:\n%s", stdout.String())
	}
	for i, l := range lines {
		if strings.Contains(l, "\r") || strings.Contains(l, "\x1b") {
			t.Fatalf("terminal control codes without a terminal: %q", l)
		}
		if i > 0 && l == lines[i-1] {
			t.Fatalf("line %d repeats the one before: %q", i, l)
		}
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "done") || !strings.Contains(last, "100.0%") || !strings.Contains(last, "20/20") {
		t.Fatalf("last line %q, want done at 100%% (20/20)", last)
	}

	errs := []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"no key", []string{"BULKGUARD_CLOSE_URL=" + url}, []string{job.ID}, exitUsage, "needs CLOSE_API_KEY"},
		{"not a job id", []string{"CLOSE_API_KEY=k"}, []string{"lead_123"}, exitUsage, "not a bulk-delete job id"},
		{"no job", []string{"CLOSE_API_KEY=k"}, nil, exitUsage, "name the job"},
		{"bad interval variable", []string{"CLOSE_API_KEY=k", "BULKGUARD_WATCH_INTERVAL=1ms"}, []string{job.ID}, exitUsage, "(the value comes from BULKGUARD_WATCH_INTERVAL)"},
		{"unknown job", []string{"CLOSE_API_KEY=" + sandbox.DemoAPIKey, "BULKGUARD_CLOSE_URL=" + url}, []string{"bulkdelete_doesNotExist0"}, 1, "no bulk-delete job"},
		{"refused key", []string{"CLOSE_API_KEY=wrong", "BULKGUARD_CLOSE_URL=" + url}, []string{job.ID}, 1, "refused the key"},
	}
	for _, tc := range errs {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := runWatch(context.Background(), tc.args, lookupEnv(tc.env), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q, want %q", code, tc.code, stderr.String(), tc.want)
			}
		})
	}
}

// TestWatchBar: on a terminal the bar is redrawn in place, and the
// estimate comes from the rate since the first reading.
func TestWatchBar(t *testing.T) {
	clock := testkit.NewManualClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	var out bytes.Buffer
	w := &watcher{out: &out, tty: true, now: clock.Now}
	job := func(status string, done int) *closeapi.BulkDelete {
		return &closeapi.BulkDelete{ID: "bulkdelete_x", Status: &status, NObjects: intp(100), NObjectsProcessed: done}
	}
	w.show(job("processing", 10))
	clock.Advance(10 * time.Second)
	w.show(job("processing", 30)) // 20 in 10 s: 70 left take 35 s
	w.show(job("done", 100))
	w.finish()
	got := out.String()
	for _, want := range []string{"\r", "\x1b[K", "[###" + strings.Repeat(".", 27) + "]  10.0%  10/100", "30.0%  30/100  ETA 35s", "[##############################] 100.0%  100/100"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%q", want, got)
		}
	}
	if !strings.HasSuffix(got, "\n") || strings.Count(got, "\n") != 1 {
		t.Errorf("want one final newline on a terminal: %q", got)
	}
	if strings.Contains(got[strings.LastIndex(got, "\r"):], "ETA") {
		t.Errorf("a finished job has no estimate: %q", got)
	}
}

// TestCommandHelp: every command's --help lists its flags on stdout, and
// the top usage names every command.
func TestCommandHelp(t *testing.T) {
	tests := []struct {
		cmd   string
		flags *cliFlags
	}{
		{"doctor", newServeFlags(&serveConfig{})},
		{"preview", newServeFlags(&serveConfig{})},
		{"watch", newWatchFlags(&watchConfig{})},
		{"audit", newAuditFlags(&auditConfig{})},
	}
	var top bytes.Buffer
	if code := run(context.Background(), []string{"help"}, nil, &top, &top); code != 0 {
		t.Fatalf("help: exit %d", code)
	}
	for _, tc := range tests {
		t.Run(tc.cmd, func(t *testing.T) {
			if !strings.Contains(top.String(), "bulkguard "+tc.cmd+" [flags]") {
				t.Errorf("the top usage does not list %s:\n%s", tc.cmd, top.String())
			}
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), []string{tc.cmd, "--help"}, strings.NewReader(""), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "Usage: bulkguard "+tc.cmd) {
				t.Errorf("--help does not start with the usage line:\n%s", stdout.String())
			}
			tc.flags.fs.VisitAll(func(f *flag.Flag) {
				if !strings.Contains(stdout.String(), "  --"+f.Name) {
					t.Errorf("%s --help does not list --%s", tc.cmd, f.Name)
				}
			})
		})
	}
}
