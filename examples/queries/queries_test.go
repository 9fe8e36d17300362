// Package queries holds example s_query files for common Close cleanups (see
// README.md). This test decodes each with the grammar and previews it through
// bulkguard's MCP tools against the sandbox, so every example is known to be
// valid, executable and to match what its README line says.
package queries

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/server"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/schema"
)

var update = flag.Bool("update", false, "rewrite golden files")

// now pins the sandbox clock: the demo organization's dates are spread over
// the two years before it, so relative and fixed dates give the same counts
// on every run.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// expectations says, per file, what the preview must show. Every file is
// listed; a new file without an entry fails the test.
var expectations = map[string]struct {
	objectType string
	// empty: the demo organization has no match (the example is for real
	// orgs); the preview must say so rather than fail.
	empty bool
	// resultsLimit is the file's own results_limit (Copy Filters wrapper).
	resultsLimit int
}{
	"01-duplicates-acme-inc.json":             {objectType: "lead"},
	"02-duplicates-acme-keep-oldest.json":     {objectType: "lead", resultsLimit: 10},
	"03-junk-names.json":                      {objectType: "lead"},
	"04-junk-email-domains.json":              {objectType: "lead"},
	"05-status-bad-fit.json":                  {objectType: "lead"},
	"06-bad-fit-older-than-a-year.json":       {objectType: "lead"},
	"07-leads-without-contacts.json":          {objectType: "lead", empty: true},
	"08-leads-without-a-phone.json":           {objectType: "lead"},
	"09-created-before-a-date.json":           {objectType: "lead"},
	"10-custom-field-lead-source-import.json": {objectType: "lead"},
	"11-bad-import-last-30-days.json":         {objectType: "lead"},
	"12-no-communication-in-a-year.json":      {objectType: "lead"},
	"13-smart-view-reference.json":            {objectType: "lead"},
	"14-smart-view-copy-filters.json":         {objectType: "lead", resultsLimit: 100},
	"15-contacts-without-email.json":          {objectType: "contact"},
}

type previewResult struct {
	PlanID      string `json:"plan_id"`
	Environment string `json:"environment"`
	ObjectType  string `json:"object_type"`
	Total       int    `json:"total"`
	WillDelete  int    `json:"will_delete"`
	Summary     string `json:"summary"`
	Sample      []struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	} `json:"sample"`
	Warnings   []string `json:"warnings"`
	Executable bool     `json:"executable"`
	Refusal    *struct {
		Code    string `json:"code"`
		Problem string `json:"problem"`
	} `json:"refusal"`
	ConfirmationPhrase string `json:"confirmation_phrase"`
}

// newClient serves the demo sandbox and connects an in-process MCP client
// to bulkguard's tools on it, wired by internal/server as `bulkguard
// --sandbox` wires them.
func newClient(t *testing.T) (*client.Client, *server.Server) {
	t.Helper()
	srv, cleanup, err := server.New(server.Config{
		SandboxOptions: sandbox.Options{Now: func() time.Time { return now }},
		Policy:         guards.Policy{Confirm: guards.ConfirmAuto},
		AuditLog:       filepath.Join(t.TempDir(), "audit.jsonl"),
		Version:        "examples-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	s := srv.MCP()
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "examples-queries-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	return c, srv
}

// preview calls preview_bulk_delete with args and decodes the result; a
// refusal (isError) fails the test.
func preview(t *testing.T, c *client.Client, args map[string]any) previewResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = "preview_bulk_delete"
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("preview_bulk_delete: %v", err)
	}
	if res.IsError {
		t.Fatalf("preview_bulk_delete refused: %s", text(res))
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var p previewResult
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("structured content %s: %v", b, err)
	}
	return p
}

// text is the text content of a tool result.
var text = testkit.ResultText

func queryFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	if len(files) < 12 {
		t.Fatalf("only %d example queries", len(files))
	}
	return files
}

// TestQueries previews every example and compares the counts and summaries
// with testdata/previews.golden (go test -run TestQueries -update rewrites it).
func TestQueries(t *testing.T) {
	c, _ := newClient(t)
	var golden bytes.Buffer
	for _, file := range queryFiles(t) {
		want, ok := expectations[file]
		if !ok {
			t.Errorf("%s has no entry in expectations", file)
			continue
		}
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		// The grammar accepts it as is: nothing unrecognised, an object type
		// named, not a match-everything query.
		req, err := schema.Decode(raw)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if len(req.Unrecognised) != 0 {
			t.Errorf("%s: unrecognised constructs %+v", file, req.Unrecognised)
		}
		if ot, ok := schema.ObjectTypeOf(req.Query); !ok || ot != want.objectType {
			t.Errorf("%s: object type %q (named: %v), want %q", file, ot, ok, want.objectType)
		}
		if schema.MatchesEverything(req.Query) {
			t.Errorf("%s matches everything", file)
		}
		gotLimit := 0
		if req.ResultsLimit != nil {
			gotLimit = *req.ResultsLimit
		}
		if gotLimit != want.resultsLimit {
			t.Errorf("%s: results_limit %d, want %d", file, gotLimit, want.resultsLimit)
		}

		p := preview(t, c, map[string]any{"s_query": json.RawMessage(raw), "sample_size": 3})
		if p.ObjectType != want.objectType || p.Environment != "sandbox" {
			t.Errorf("%s: object_type %q environment %q", file, p.ObjectType, p.Environment)
		}
		switch {
		case want.empty:
			if p.Total != 0 || p.WillDelete != 0 {
				t.Errorf("%s: %d matches in the demo org, want none (update the README if the seed changed)", file, p.Total)
			}
		default:
			if p.Total == 0 || !p.Executable || p.Refusal != nil {
				t.Errorf("%s: total %d executable %v refusal %+v, want an executable plan with matches", file, p.Total, p.Executable, p.Refusal)
			}
			wantDelete := p.Total
			if want.resultsLimit != 0 {
				wantDelete = min(p.Total, want.resultsLimit)
			}
			if p.WillDelete != wantDelete || len(p.Sample) != min(3, p.Total) {
				t.Errorf("%s: will_delete %d (want %d), %d sample items", file, p.WillDelete, wantDelete, len(p.Sample))
			}
		}
		fmt.Fprintf(&golden, "%s\n  total %d, will delete %d, executable %v\n  %s\n", file, p.Total, p.WillDelete, p.Executable, p.Summary)
		for _, w := range p.Warnings {
			fmt.Fprintf(&golden, "  warning: %s\n", w)
		}
	}
	checkGolden(t, filepath.Join("testdata", "previews.golden"), golden.Bytes())
}

func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run %s -update rewrites it):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

// TestSmartViewByID previews Smart Views by id, the other way to delete
// "what a Smart View shows" (README): the query is snapshotted, a
// user-dependent view gets a warning, and a view without a structured query
// is refused.
func TestSmartViewByID(t *testing.T) {
	c, _ := newClient(t)
	raw, err := os.ReadFile("05-status-bad-fit.json")
	if err != nil {
		t.Fatal(err)
	}
	byQuery := preview(t, c, map[string]any{"s_query": json.RawMessage(raw)})
	byView := preview(t, c, map[string]any{"smart_view_id": badFitView})
	if !byView.Executable || byView.Total != byQuery.Total || byView.Total == 0 {
		t.Errorf("Smart View %s: total %d executable %v, want the %d leads of 05-status-bad-fit.json", badFitView, byView.Total, byView.Executable, byQuery.Total)
	}

	mine := preview(t, c, map[string]any{"smart_view_id": myLeadsView})
	if !slices.ContainsFunc(mine.Warnings, func(w string) bool { return strings.Contains(strings.ToLower(w), "user") }) {
		t.Errorf("user-dependent Smart View: warnings %q, want one about the user", mine.Warnings)
	}

	req := mcp.CallToolRequest{}
	req.Params.Name = "preview_bulk_delete"
	req.Params.Arguments = map[string]any{"smart_view_id": oldStringView}
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(text(res), "Nothing was deleted") {
		t.Errorf("a Smart View with s_query null: %s, want a refusal", text(res))
	}
}

// The demo organization's Smart Views (seed 1; ids do not depend on the
// clock). README.md names them.
const (
	badFitView    = "save_u4WEHcrh0lSM61hAl8atTO0ZvFHHFTaCvBCjKT19Nrz" // "Bad Fit leads"
	myLeadsView   = "save_ytyQXgbsUfAn1e4KMCqpSAX1kRtqVZs0lqktsYf87Ha" // "My leads" (CURRENT_USER)
	oldStringView = "save_EpoXfhhrDDWmVrNdyhu3CWlb7R66qpv2KkVVWKaBctb" // "Old string search" (s_query null)
)

var reIDs = regexp.MustCompile(`\b(?:stat|cf|save)_[A-Za-z0-9]+\b`)

// TestReadme checks that README.md describes every file and that every id
// the files and README use exists in the demo organization.
func TestReadme(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range queryFiles(t) {
		if !bytes.Contains(readme, []byte("`"+f+"`")) {
			t.Errorf("README.md does not describe %s", f)
		}
	}
	_, srv := newClient(t)
	cl := srv.Client()
	ctx := context.Background()
	known := map[string]bool{}
	statuses, err := cl.LeadStatuses(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range statuses {
		known[s.ID] = true
	}
	fields, err := cl.LeadCustomFields(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		known[f.ID] = true
	}
	views, err := cl.SmartViews(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		known[v.ID] = true
	}
	var all []byte
	all = append(all, readme...)
	for _, f := range queryFiles(t) {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	for _, id := range reIDs.FindAllString(string(all), -1) {
		if !known[id] {
			t.Errorf("%s is not an id of the demo organization", id)
		}
	}
}
