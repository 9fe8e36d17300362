package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/tools"
)

// fuzzArgSeeds are argument objects for the fuzzer to start from: valid
// calls of every tool, and the shapes of the bad-input table
// (reliability/hostile_test.go): wrong types, unknown keys, path tricks,
// nesting, strings holding JSON.
var fuzzArgSeeds = []struct {
	tool string
	args string
}{
	{tools.ToolPreview, `{"s_query":{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}}]}}`},
	{tools.ToolPreview, `{"s_query":"{\"type\":\"and\",\"queries\":[{\"type\":\"object_type\",\"object_type\":\"lead\"},{\"type\":\"id\",\"value\":\"lead_x\"}]}","sort":"[]"}`},
	{tools.ToolPreview, `{"s_query":{"query":{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"match_all"}]},"results_limit":5},"results_limit":5,"sample_size":3,"send_done_email":false}`},
	{tools.ToolPreview, `{"smart_view_id":"save_abc","sort":[{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"}}]}`},
	{tools.ToolPreview, `{"s_query":5}`},
	{tools.ToolPreview, `{"s_query":{"type":"and","queries":[{"type":"and","queries":[{"type":"and","queries":[]}]}]},"results_limit":1e300}`},
	{tools.ToolPreview, `{"smart_view_id":"../../lead","s_query":null}`},
	{tools.ToolCreate, `{"plan_id":"plan_abc","confirm":"DELETE 3 LEADS"}`},
	{tools.ToolCreate, `{"plan_id":12345,"force":true}`},
	{tools.ToolCreate, `{"plan_id":"../../lead","confirm":["DELETE"]}`},
	{tools.ToolList, `{"limit":20,"skip":0,"status":"paused","object_type":"lead"}`},
	{tools.ToolList, `{"limit":"all","skip":-1}`},
	{tools.ToolGet, `{"id":"bulkdelete_abc"}`},
	{tools.ToolGet, `{"id":"bulkdelete_../../lead/"}`},
	{tools.ToolPause, `{"id":"bulkdelete_abc?status=done"}`},
	{tools.ToolResume, `{"id":"bulkdelete_abc","confirm":"RESUME bulkdelete_abc"}`},
	{tools.ToolLookup, `{"kind":"custom_fields","name":"Industry"}`},
	{tools.ToolLookup, `{"kind":"api_keys"}`},
	{tools.ToolLookup, `[]`},
	{tools.ToolGet, `"bulkdelete_abc"`},
	{tools.ToolList, `null`},
	{tools.ToolList, `{"limit":5,"limit":6}`},
	{tools.ToolCreate, `{"plan_id":"plan_\u0000\ud800"}`},
	{tools.ToolPreview, `{`},
	{tools.ToolPreview, ``},
}

// FuzzToolArguments: whatever arguments arrive, no tool handler panics or
// returns a Go error (which would surface as a JSON-RPC error the model
// never sees); garbage — anything that is not a JSON object — is an isError
// result that says so; every isError result has text, no structured
// content, and says what happened to the data; every success has
// structured content; and no input reaches a bulk-delete create (no plan
// can be guessed). Handlers run against the sandbox, so well-formed calls
// do real work.
func FuzzToolArguments(f *testing.F) {
	sb, err := sandbox.New(sandbox.Options{Seed: 5, Leads: 50})
	if err != nil {
		f.Fatal(err)
	}
	hs := httptest.NewServer(sb)
	f.Cleanup(func() { hs.Close(); sb.Close() })
	cl, err := closeapi.New(closeapi.Options{BaseURL: hs.URL + "/api/v1", APIKey: sb.APIKey(), MaxAttempts: 1,
		HTTPClient: &http.Client{Timeout: 10 * time.Second}})
	if err != nil {
		f.Fatal(err)
	}
	log, err := guards.OpenAuditLog(filepath.Join(f.TempDir(), "audit.jsonl"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { log.Close() })
	g, err := guards.New(guards.Config{Audit: log, Environment: "sandbox", Policy: guards.Policy{Backup: guards.BackupOff}})
	if err != nil {
		f.Fatal(err)
	}
	handlers := map[string]server.ToolHandlerFunc{}
	var names []string
	for _, st := range tools.Tools(tools.Deps{Guard: g, Client: cl, Environment: "sandbox", Version: "fuzz"}) {
		handlers[st.Tool.Name] = st.Handler
		names = append(names, st.Tool.Name)
	}
	index := func(name string) uint8 {
		for i, n := range names {
			if n == name {
				return uint8(i)
			}
		}
		f.Fatalf("no tool %s", name)
		return 0
	}

	for _, s := range fuzzArgSeeds {
		f.Add(index(s.tool), []byte(s.args), "")
	}
	// Real Smart View filters (schema's corpus), as s_query.
	files, _ := filepath.Glob(filepath.Join("..", "schema", "testdata", "real-queries", "*.json"))
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(index(tools.ToolPreview), append(append([]byte(`{"s_query":`), data...), '}'), "")
		}
	}
	// Forged elicitation state on the confirming tools.
	f.Add(index(tools.ToolCreate), []byte(`{"plan_id":"plan_abc"}`), "forged-state")
	f.Add(index(tools.ToolResume), []byte(`{"id":"bulkdelete_abc"}`), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")

	f.Fuzz(func(t *testing.T, which uint8, args []byte, state string) {
		name := names[int(which)%len(names)]
		req := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, RawArguments: json.RawMessage(args)}}
		req.Params.RequestState = state
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := handlers[name](ctx, req)
		if err != nil {
			t.Fatalf("%s returned a Go error (a JSON-RPC error the model never sees): %v", name, err)
		}
		if res == nil {
			t.Fatalf("%s returned no result", name)
		}
		var text strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(mcp.TextContent); ok {
				text.WriteString(tc.Text)
			}
		}
		trimmed := bytes.TrimSpace(args)
		notObject := len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) &&
			(!json.Valid(trimmed) || trimmed[0] != '{')
		switch {
		case res.NeedsInput():
			t.Fatalf("%s asked for input from a client that cannot elicit", name)
		case res.IsError:
			if text.Len() == 0 {
				t.Fatalf("%s: isError without text", name)
			}
			if res.StructuredContent != nil {
				t.Fatalf("%s: isError with structured content", name)
			}
			said := strings.Contains(text.String(), "Nothing was deleted") ||
				strings.Contains(text.String(), "NOT paused") || strings.Contains(text.String(), "not resumed")
			if !said {
				t.Fatalf("%s: the error does not say what happened to the data: %s", name, text.String())
			}
			if notObject && !strings.Contains(text.String(), "must be a JSON object") {
				t.Fatalf("%s: arguments %q are not an object, but the error says: %s", name, args, text.String())
			}
		default:
			if notObject {
				t.Fatalf("%s accepted arguments that are not a JSON object: %q", name, args)
			}
			if res.StructuredContent == nil {
				t.Fatalf("%s: success without structured content", name)
			}
		}
		if n := sb.Requests(http.MethodPost, "/bulk_action/delete/"); n != 0 {
			t.Fatalf("%d bulk-delete creates reached the sandbox from fuzzed arguments %q", n, args)
		}
	})
}
