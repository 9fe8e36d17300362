package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
)

// wireToolsList returns the tools/list result exactly as the server writes
// it (a client's typed decoding would add and reorder keys).
func wireToolsList(t *testing.T, d Deps) []byte {
	t.Helper()
	resp := NewServer(d).HandleMessage(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	b, err := json.Marshal(resp)
	if err != nil {
		t.Fatalf("tools/list does not marshal: %v", err)
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	if err := json.Unmarshal(b, &env); err != nil || env.Error != nil || len(env.Result) == 0 {
		t.Fatalf("tools/list failed: %s", b)
	}
	return env.Result
}

// TestToolsListGolden snapshots the whole tools/list payload (names,
// titles, descriptions, schemas, annotations). Rewrite with -update.
func TestToolsListGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := json.Indent(&buf, wireToolsList(t, Deps{}), "", "  "); err != nil {
		t.Fatal(err)
	}
	got := append(buf.Bytes(), '\n')
	path := filepath.Join("testdata", "tools_list.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./tools/ -run TestToolsListGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("tools/list differs from %s (rerun with -update if the change is intended):\n%s", path, firstDiff(string(want), string(got)))
	}
}

func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + itoa(i+1) + ":\n- " + x + "\n+ " + y
		}
	}
	return ""
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// toolsListBudget is the most the minified tools/list payload may weigh:
// every client sends it to the model on every turn. It was 12 KiB for seven
// tools (12,210 bytes); restore_bulk_delete and list_backups add about
// 1,260 bytes, and the query grammar (three quarters of the whole) is not
// cut to make room, so the budget is 14 KiB for nine.
const toolsListBudget = 14336

func TestToolsListSizeBudget(t *testing.T) {
	t.Parallel()
	b := wireToolsList(t, Deps{})
	var res struct{ Tools []json.RawMessage }
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	t.Logf("tools/list: %d bytes minified for %d tools (budget %d)", len(b), len(res.Tools), toolsListBudget)
	for _, tool := range res.Tools {
		var named struct{ Name string }
		_ = json.Unmarshal(tool, &named)
		t.Logf("  %-22s %5d bytes", named.Name, len(tool))
	}
	if len(res.Tools) != 9 {
		t.Fatalf("%d tools, want 9", len(res.Tools))
	}
	if len(b) > toolsListBudget {
		t.Fatalf("tools/list is %d bytes minified, over the %d-byte budget", len(b), toolsListBudget)
	}
}

// TestAnnotations: every tool has a title and all four hints, and no
// read-only tool claims to be destructive (Grafana's
// TestAllToolsDeclareAnnotationHints, docs/mcp-notes.md §0.3).
func TestAnnotations(t *testing.T) {
	t.Parallel()
	want := map[string][4]bool{ // readOnly, destructive, idempotent, openWorld
		ToolPreview: {true, false, true, true},
		ToolCreate:  {false, true, false, true},
		ToolList:    {true, false, true, true},
		ToolGet:     {true, false, true, true},
		ToolPause:   {false, false, true, true},
		ToolResume:  {false, true, false, true},
		ToolLookup:  {true, false, true, true},
		// A restore creates objects (not destructive) and creates them anew
		// on every confirmed run it is not resuming (not idempotent).
		ToolRestore:     {false, false, false, true},
		ToolListBackups: {true, false, true, true},
	}
	// Read from the wire, where an omitted hint would really be missing.
	var wire struct{ Tools json.RawMessage }
	if err := json.Unmarshal(wireToolsList(t, Deps{}), &wire); err != nil {
		t.Fatal(err)
	}
	raw := wire.Tools
	var tools []struct {
		Name        string           `json:"name"`
		Title       string           `json:"title"`
		Description string           `json:"description"`
		Annotations map[string]any   `json:"annotations"`
		Input       map[string]any   `json:"inputSchema"`
		Output      map[string]any   `json:"outputSchema"`
		Extra       *json.RawMessage `json:"execution"`
	}
	if err := json.Unmarshal(raw, &tools); err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools {
		w, ok := want[tool.Name]
		if !ok {
			t.Fatalf("unexpected tool %s", tool.Name)
		}
		if tool.Title == "" {
			t.Errorf("%s: no title", tool.Name)
		}
		for i, hint := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
			v, ok := tool.Annotations[hint].(bool)
			if !ok {
				t.Errorf("%s: %s missing", tool.Name, hint)
				continue
			}
			if v != w[i] {
				t.Errorf("%s: %s = %v, want %v", tool.Name, hint, v, w[i])
			}
		}
		if tool.Annotations["readOnlyHint"] == true && tool.Annotations["destructiveHint"] == true {
			t.Errorf("%s: read-only and destructive", tool.Name)
		}
		if tool.Input["type"] != "object" || tool.Input["$ref"] != nil || tool.Output["type"] != "object" {
			t.Errorf("%s: schemas must be objects without a top-level $ref", tool.Name)
		}
		if req, _ := tool.Output["required"].([]any); !slices.Contains(req, any("environment")) {
			t.Errorf("%s: output does not require environment", tool.Name)
		}
	}
}

// TestDescriptionsTellTheContract: the lines a model must read are there.
func TestDescriptionsTellTheContract(t *testing.T) {
	t.Parallel()
	desc := map[string]string{}
	for _, st := range Tools(Deps{}) {
		desc[st.Tool.Name] = st.Tool.Description
	}
	for tool, fragments := range map[string][]string{
		ToolPreview: {"deletes nothing", "Show the person the summary, count and sample", "lookup_close_ids", "never guess"},
		ToolCreate:  {"IRREVERSIBLE", "Never invent or type it yourself", "pause_bulk_delete is the brake", "person has seen", "approval_url"},
		ToolPause:   {"brake"},
		ToolResume:  {"IRREVERSIBLE", "Never type it yourself", "RESUME and the job id"},
	} {
		for _, f := range fragments {
			if !strings.Contains(desc[tool], f) {
				t.Errorf("%s description lacks %q", tool, f)
			}
		}
	}
}

// TestReadOnlyRegistration: read-only mode registers the five tools that
// change nothing; the others cannot be called.
func TestReadOnlyRegistration(t *testing.T) {
	t.Parallel()
	var names []string
	for _, st := range Tools(Deps{ReadOnly: true}) {
		names = append(names, st.Tool.Name)
		if st.Tool.Annotations.ReadOnlyHint == nil || !*st.Tool.Annotations.ReadOnlyHint {
			t.Errorf("%s registered in read-only mode", st.Tool.Name)
		}
	}
	want := []string{ToolGet, ToolList, ToolListBackups, ToolLookup, ToolPreview}
	if !slices.Equal(names, want) {
		t.Fatalf("read-only tools = %v, want %v", names, want)
	}
	f := newFixture(t, fixtureOpts{readOnly: true})
	c := inProcess(t, f.srv, eras[1], nil)
	res, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil || len(res.Tools) != 5 {
		t.Fatalf("tools/list in read-only mode: %v, %d tools", err, len(res.Tools))
	}
	// A preview still works and still makes a plan ...
	_, q := f.pickLeads(1)
	res2 := call(t, c, ToolPreview, map[string]any{"s_query": q})
	var p previewResult
	structured(t, res2, &p)
	// ... says it cannot be executed here, and never offers the tool
	// that is not registered ...
	txt := resultText(res2)
	if p.Executable || p.ConfirmationPhrase != "" || p.Refusal == nil || p.Refusal.Code != guards.CodeReadOnly ||
		!strings.Contains(p.Refusal.Problem, "--read-only") || !strings.Contains(p.Refusal.Next, "without --read-only") {
		t.Errorf("read-only preview: executable %v phrase %q refusal %+v", p.Executable, p.ConfirmationPhrase, p.Refusal)
	}
	if strings.Contains(txt, "call create_bulk_delete") || !strings.Contains(txt, "NOT EXECUTABLE (read_only)") {
		t.Errorf("read-only preview text: %s", txt)
	}
	// ... and nothing can execute it.
	for _, name := range []string{ToolCreate, ToolPause, ToolResume} {
		_, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{
			Name: name, Arguments: map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}}})
		if err == nil {
			t.Fatalf("%s is callable in read-only mode", name)
		}
	}
	f.wantCreates(t, 0)
}

// TestSchemasCompileAndPortable: every schema compiles as JSON Schema
// 2020-12 with its $refs resolving inside the tool, and passes the
// portability rules of `inspector --strict` (no bare boolean schemas where
// an object schema is expected, no type arrays, no unconstrained
// sub-schemas, no remote $ref).
func TestSchemasCompileAndPortable(t *testing.T) {
	t.Parallel()
	for _, st := range Tools(Deps{}) {
		compileSchema(t, "in/"+st.Tool.Name, st.Tool.RawInputSchema)
		compileSchema(t, "out/"+st.Tool.Name, st.Tool.RawOutputSchema)
		for _, s := range []struct {
			kind string
			raw  []byte
		}{{"inputSchema", st.Tool.RawInputSchema}, {"outputSchema", st.Tool.RawOutputSchema}} {
			var doc any
			if err := json.Unmarshal(s.raw, &doc); err != nil {
				t.Fatal(err)
			}
			for _, p := range lintSchema(doc, "", "") {
				t.Errorf("%s %s: %s", st.Tool.Name, s.kind, p)
			}
		}
	}
	// The grammar travels only in preview's schema.
	for _, st := range Tools(Deps{}) {
		has := bytes.Contains(st.Tool.RawInputSchema, []byte(`"$defs"`))
		if has != (st.Tool.Name == ToolPreview) {
			t.Errorf("%s: $defs present = %v", st.Tool.Name, has)
		}
	}
}

// TestPreviewSchemaAcceptsQueries: the input schema a model reads accepts
// the queries the server accepts, bare and wrapped, and rejects values out
// of range.
func TestPreviewSchemaAcceptsQueries(t *testing.T) {
	t.Parallel()
	s := compileSchema(t, "in/preview-accepts", previewInputSchema())
	q := idQuery([]string{"lead_abc", "lead_def"})
	sort := []any{map[string]any{"direction": "desc", "field": map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"}}}
	for _, ok := range []map[string]any{
		{"s_query": q},
		{"s_query": q, "sort": sort, "results_limit": 5, "send_done_email": false, "sample_size": 50},
		{"s_query": map[string]any{"query": q, "sort": sort, "results_limit": 3}},
		{"smart_view_id": "save_abc"},
	} {
		b, _ := json.Marshal(ok)
		if err := s.Validate(mustUnmarshalAny(t, b)); err != nil {
			t.Errorf("rejected %s: %v", b, err)
		}
	}
	for _, bad := range []map[string]any{
		{"s_query": q, "sample_size": 51},
		{"s_query": q, "results_limit": 0},
	} {
		b, _ := json.Marshal(bad)
		if err := s.Validate(mustUnmarshalAny(t, b)); err == nil {
			t.Errorf("accepted %s", b)
		}
	}
}

// lintSchema applies the MCP Inspector's --strict portability rules.
func lintSchema(node any, path, keyword string) []string {
	boolOK := map[string]bool{"additionalProperties": true, "unevaluatedProperties": true, "additionalItems": true, "unevaluatedItems": true}
	switch n := node.(type) {
	case bool:
		if boolOK[keyword] {
			return nil
		}
		return []string{path + ": bare boolean schema"}
	case map[string]any:
		var out []string
		if _, isArr := n["type"].([]any); isArr {
			out = append(out, path+": type is an array")
		}
		if ref, ok := n["$ref"].(string); ok && !strings.HasPrefix(ref, "#") {
			out = append(out, path+": remote $ref "+ref)
		}
		constrains := false
		for k := range n {
			if constrainingKeywords[k] {
				constrains = true
			}
		}
		if !constrains && keyword != "not" {
			out = append(out, path+": schema constrains nothing")
		}
		for _, k := range []string{"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"} {
			if m, ok := n[k].(map[string]any); ok {
				for name, sub := range m {
					out = append(out, lintSchema(sub, path+"/"+k+"/"+name, k)...)
				}
			}
		}
		for _, k := range []string{"allOf", "anyOf", "oneOf", "prefixItems"} {
			if a, ok := n[k].([]any); ok {
				for i, sub := range a {
					out = append(out, lintSchema(sub, path+"/"+k+"/"+itoa(i), k)...)
				}
			}
		}
		for _, k := range []string{"items", "contains", "not", "propertyNames", "if", "then", "else", "additionalProperties", "unevaluatedProperties"} {
			if sub, ok := n[k]; ok {
				out = append(out, lintSchema(sub, path+"/"+k, k)...)
			}
		}
		return out
	}
	return nil
}

var constrainingKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`type enum const multipleOf maximum exclusiveMaximum minimum exclusiveMinimum
		maxLength minLength pattern format maxItems minItems uniqueItems maxContains minContains maxProperties
		minProperties required dependentRequired allOf anyOf oneOf not items prefixItems contains additionalItems
		unevaluatedItems properties patternProperties additionalProperties unevaluatedProperties propertyNames
		dependentSchemas dependencies $ref $dynamicRef $recursiveRef`) {
		constrainingKeywords[k] = true
	}
}
