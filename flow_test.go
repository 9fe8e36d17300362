package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// person answers the confirmation form the way a careful user does: by
// typing the phrase the preview showed.
type person struct {
	mu     sync.Mutex
	phrase string
	asked  int
}

func (p *person) Elicit(_ context.Context, _ mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.asked++
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action:  mcp.ElicitationResponseActionAccept,
		Content: map[string]any{"phrase": p.phrase},
	}}, nil
}

// startStdioClient runs the binary over stdio with a client in era; with a
// non-nil p the client declares elicitation and answers through p.
func startStdioClient(t *testing.T, era string, p *person, args ...string) (*client.Client, *exec.Cmd) {
	t.Helper()
	cmd := command(t, nil, args...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("stderr:\n%s", stderr.String())
		}
	})
	return initClient(t, transport.NewIO(stdout, stdin, nil), era, p), cmd
}

func initClient(t *testing.T, tr transport.Interface, era string, p *person) *client.Client {
	t.Helper()
	opts := []client.ClientOption{client.WithProtocolVersion(era)}
	if p != nil {
		opts = append(opts, client.WithElicitationHandler(p))
	}
	c := client.NewClient(tr, opts...)
	// The transport keeps Start's context for the requests the server sends
	// (legacy elicitation): it must live as long as the client, not as long
	// as this function.
	life, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	if err := c.Start(life); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	init, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ProtocolVersion: era,
		ClientInfo:      mcp.Implementation{Name: "bulkguard-test", Version: "1"},
	}})
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if init.ProtocolVersion != era {
		t.Errorf("negotiated protocol %q, want %q", init.ProtocolVersion, era)
	}
	return c
}

// callTool calls a tool and returns its structuredContent, failing on an
// isError result.
func callTool(t *testing.T, c *client.Client, name string, args map[string]any) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		t.Fatalf("%s: error result: %+v", name, res.Content)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil || out == nil {
		t.Fatalf("%s: no structured content: %s", name, b)
	}
	return out
}

// acmeQuery selects the demo organization's "ACME" duplicates.
var acmeQuery = map[string]any{"type": "and", "queries": []any{
	map[string]any{"type": "object_type", "object_type": "lead"},
	map[string]any{"type": "field_condition",
		"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "name"},
		"condition": map[string]any{"type": "text", "mode": "full_words", "value": "ACME"}},
}}

// TestDeleteFlow drives preview → create → get through the built binary
// with the sandbox, confirmed by a form or by the typed phrase, and checks
// the receipt, the finished job and the audit log the flags pointed at.
func TestDeleteFlow(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		era       string
		elicit    bool
		wantBy    string
	}{
		{"stdio legacy, form", "stdio", mcp.ProtocolVersion20251125, true, guards.ConfirmedByElicitation},
		{"stdio modern, form", "stdio", mcp.ProtocolVersion20260728, true, guards.ConfirmedByElicitation},
		{"stdio legacy, phrase", "stdio", mcp.ProtocolVersion20251125, false, guards.ConfirmedByPhrase},
		{"http modern, form", "http", mcp.ProtocolVersion20260728, true, guards.ConfirmedByElicitation},
		{"http legacy, form", "http", mcp.ProtocolVersion20251125, true, guards.ConfirmedByElicitation},
		{"http legacy, phrase", "http", mcp.ProtocolVersion20251125, false, guards.ConfirmedByPhrase},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			audit := filepath.Join(t.TempDir(), "audit", "log.jsonl")
			args := []string{"--leads", "300", "--delete-rate", "0", "--rate-limit", "0", "--audit-log", audit}
			var p *person
			if tc.elicit {
				p = &person{}
			}
			var c *client.Client
			var stop func()
			if tc.transport == "stdio" {
				var cmd *exec.Cmd
				c, cmd = startStdioClient(t, tc.era, p, args...)
				stop = func() { _ = c.Close(); waitExit(t, cmd, 0) }
			} else {
				hs := startHTTP(t, append([]string{"--transport", "http", "--http-token", testToken}, args...)...)
				tr, err := transport.NewStreamableHTTP("http://"+hs.addr+"/mcp",
					transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
				if err != nil {
					t.Fatal(err)
				}
				c = initClient(t, tr, tc.era, p)
				stop = func() { _ = c.Close(); hs.stop(t) }
			}

			pv := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": acmeQuery, "sample_size": 3})
			phrase, _ := pv["confirmation_phrase"].(string)
			if pv["environment"] != "sandbox" || pv["executable"] != true || !strings.HasPrefix(phrase, "DELETE ") {
				t.Fatalf("preview = %v", pv)
			}
			willDelete := pv["will_delete"].(float64)
			createArgs := map[string]any{"plan_id": pv["plan_id"]}
			if p != nil {
				p.phrase = phrase
			} else {
				createArgs["confirm"] = phrase
			}
			cr := callTool(t, c, "create_bulk_delete", createArgs)
			receipt, _ := cr["receipt"].(map[string]any)
			if receipt["confirmed_by"] != tc.wantBy || receipt["results_limit_sent"] != willDelete {
				t.Fatalf("receipt = %v", receipt)
			}
			if p != nil && p.asked != 1 {
				t.Errorf("the person was asked %d times, want once", p.asked)
			}
			jobID := cr["job"].(map[string]any)["id"].(string)

			// Poll until the job is terminal; the deadline is a safety net,
			// not an assertion about speed.
			deadline := time.Now().Add(testTimeout)
			var progress map[string]any
			for {
				got := callTool(t, c, "get_bulk_delete", map[string]any{"id": jobID})
				progress, _ = got["progress"].(map[string]any)
				if progress["terminal"] == true {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("job %s never finished: %v", jobID, got)
				}
				time.Sleep(50 * time.Millisecond)
			}
			if progress["processed"] != willDelete {
				t.Errorf("progress = %v, want %v processed", progress, willDelete)
			}
			stop()

			recs, err := guards.ReadAuditLog(audit)
			if err != nil {
				t.Fatal(err)
			}
			var events []string
			for _, r := range recs {
				events = append(events, r.Event)
				if r.Environment != "sandbox" {
					t.Errorf("audit record %s: environment %q", r.ID, r.Environment)
				}
			}
			if len(recs) < 2 {
				t.Errorf("audit log has events %v, want at least the preview and the create", events)
			}
		})
	}
}

// callToolResult calls a tool and returns the raw result.
func callToolResult(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// resultText is the text content of a result.
var resultText = testkit.ResultText

// TestGuardFlags checks the policy flags reach the guard: each one changes
// what the binary lets through, and every refusal says nothing was deleted.
func TestGuardFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		// check runs against a client without elicitation support.
		check func(t *testing.T, c *client.Client)
	}{
		{"--allowed-object-types contact refuses a lead delete", []string{"--allowed-object-types", "contact"}, func(t *testing.T, c *client.Client) {
			res := callToolResult(t, c, "preview_bulk_delete", map[string]any{"s_query": acmeQuery})
			if !res.IsError || !strings.Contains(resultText(res), "Nothing was deleted") {
				t.Errorf("preview of leads = %v %q, want a refusal", res.IsError, resultText(res))
			}
		}},
		{"--max-objects 1 makes a bigger preview not executable", []string{"--max-objects", "1"}, func(t *testing.T, c *client.Client) {
			pv := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": acmeQuery})
			if pv["executable"] != false || pv["total"].(float64) < 2 {
				t.Errorf("preview = %v, want more than one match and not executable", pv)
			}
		}},
		{"--confirm elicit refuses the typed phrase", []string{"--confirm", "elicit"}, func(t *testing.T, c *client.Client) {
			pv := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": acmeQuery})
			res := callToolResult(t, c, "create_bulk_delete", map[string]any{"plan_id": pv["plan_id"], "confirm": pv["confirmation_phrase"]})
			if !res.IsError || !strings.Contains(resultText(res), "Nothing was deleted") {
				t.Errorf("create = %v %q, want a refusal", res.IsError, resultText(res))
			}
			list := callTool(t, c, "list_bulk_deletes", map[string]any{})
			if jobs, _ := list["jobs"].([]any); len(jobs) != 0 {
				t.Errorf("jobs after a refused create: %v", jobs)
			}
		}},
		{"--allow-match-all lets match_all preview", []string{"--allow-match-all", "--max-objects", "5000"}, func(t *testing.T, c *client.Client) {
			q := map[string]any{"type": "and", "queries": []any{
				map[string]any{"type": "object_type", "object_type": "lead"},
				map[string]any{"type": "match_all"},
			}}
			pv := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": q})
			if pv["total"].(float64) != 300 {
				t.Errorf("preview = %v, want all 300 leads counted", pv)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--leads", "300", "--rate-limit", "0"}, tc.args...)
			c, cmd := startStdioClient(t, mcp.ProtocolVersion20251125, nil, args...)
			tc.check(t, c)
			_ = c.Close()
			waitExit(t, cmd, 0)
		})
	}
}

// TestConfirmPhraseFlag: with --confirm phrase a client that declares
// elicitation is never shown the form; the typed phrase in confirm deletes.
func TestConfirmPhraseFlag(t *testing.T) {
	p := &person{phrase: "not asked"}
	c, cmd := startStdioClient(t, mcp.ProtocolVersion20251125, p, "--leads", "300", "--rate-limit", "0", "--confirm", "phrase")
	pv := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": acmeQuery})
	res := callToolResult(t, c, "create_bulk_delete", map[string]any{"plan_id": pv["plan_id"], "confirm": pv["confirmation_phrase"]})
	if res.IsError {
		t.Fatalf("create with the phrase: %s", resultText(res))
	}
	p.mu.Lock()
	asked := p.asked
	p.mu.Unlock()
	if asked != 0 {
		t.Fatalf("the form was shown %d times with --confirm phrase", asked)
	}
	_ = c.Close()
	waitExit(t, cmd, 0)
}

// TestLoadExport rehearses on "your own data": a Close JSON lead export
// loaded with --load replaces the demo organization.
func TestLoadExport(t *testing.T) {
	export := filepath.Join(t.TempDir(), "export.json")
	leads := []map[string]any{
		{"id": "lead_rehearsalAcme000000000000000000000000000000", "name": "Acme Rockets", "display_name": "Acme Rockets",
			"date_created": "2024-03-01T10:00:00.123456+00:00", "date_updated": "2024-03-01T10:00:00.123456+00:00", "contacts": []any{}},
		{"id": "lead_rehearsalBeta000000000000000000000000000000", "name": "Beta Widgets", "display_name": "Beta Widgets",
			"date_created": "2024-04-01T10:00:00+00:00", "date_updated": "2024-04-01T10:00:00+00:00", "contacts": []any{}},
	}
	b, err := json.Marshal(leads)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(export, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"--load", []string{"--load", export}},
		{"serve --sandbox --load", []string{"serve", "--sandbox", "--load", export}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, cmd := startStdioClient(t, mcp.ProtocolVersion20251125, nil, tc.args...)
			pv := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": acmeQuery})
			sample, _ := pv["sample"].([]any)
			if pv["total"] != float64(1) || len(sample) != 1 || sample[0].(map[string]any)["display_name"] != "Acme Rockets" {
				t.Errorf("preview over the export = %v", pv)
			}
			_ = c.Close()
			waitExit(t, cmd, 0)
		})
	}
	// A missing export is a usage error, not a crash.
	if _, stderr, code := runToEnd(t, nil, "--load", filepath.Join(t.TempDir(), "missing.json")); code != exitUsage || !strings.Contains(stderr, "missing.json") {
		t.Errorf("missing export: exit %d, stderr %q", code, stderr)
	}
}

// TestCloseMode runs bulkguard with CLOSE_API_KEY against a separate
// `bulkguard sandbox` (the README's rehearsal recipe): the real-Close code
// path, with the base URL from --close-url or BULKGUARD_CLOSE_URL.
func TestCloseMode(t *testing.T) {
	const key = "rehearsal-key-0123456789"
	sb := command(t, nil, "sandbox", "--listen", "127.0.0.1:0", "--leads", "300", "--api-key", key)
	sbErr := newLineWatcher()
	sb.Stderr = sbErr
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Process.Kill(); _ = sb.Wait() })
	_, base, _ := strings.Cut(sbErr.waitFor(t, func(l string) bool { return strings.Contains(l, "base URL:") }), "base URL:")
	base = strings.TrimSpace(base)

	tests := []struct {
		name    string
		env     []string
		args    []string
		wantEnv string
	}{
		{"--close-url", []string{envCloseAPIKey + "=" + key}, []string{"--close-url", base}, "sandbox"},              // a sandbox reached through --close-url says so
		{"BULKGUARD_CLOSE_URL", []string{envCloseAPIKey + "=" + key, "BULKGUARD_CLOSE_URL=" + base}, nil, "sandbox"}, // a sandbox reached through --close-url says so
		{"--sandbox wins over the key", []string{envCloseAPIKey + "=" + key}, []string{"--sandbox", "--close-url", base}, "sandbox"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := command(t, tc.env, append(tc.args, "--leads", "300")...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			c := initClient(t, transport.NewIO(stdout, stdin, nil), mcp.ProtocolVersion20251125, nil)
			pv := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": acmeQuery})
			if pv["environment"] != tc.wantEnv || pv["total"].(float64) < 1 {
				t.Errorf("preview = %v, want environment %q", pv, tc.wantEnv)
			}
			_ = c.Close()
			waitExit(t, cmd, 0)
			if strings.Contains(stderr.String(), key) {
				t.Errorf("the Close key reached stderr:\n%s", stderr.String())
			}
			if got := strings.Contains(stderr.String(), "SANDBOX"); got != (tc.wantEnv == "sandbox") {
				t.Errorf("sandbox notice on stderr = %v, want %v", got, tc.wantEnv == "sandbox")
			}
		})
	}
}
