package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

// TestReplicasBinary runs two built binaries configured as the README's
// deployment does (BULKGUARD_STORE, BULKGUARD_SEAL_KEY, --replica-id,
// {replica} in the audit path) on one Redis and one `bulkguard sandbox`:
// a plan previewed on one runs on the other, once, and each replica's
// audit file holds what it did.
func TestReplicasBinary(t *testing.T) {
	redis := testkit.StartRedis(t)
	sb := testkit.StartT(t, "sandbox", bin.Path(t), testkit.Environ(), "sandbox", "--listen", "127.0.0.1:0",
		"--leads", "300", "--rate-limit", "0", "--delete-rate", "0", "--log-level", "warn")
	base := sb.WaitFor(testkit.SandboxBaseURL, testTimeout)[1]
	dir := t.TempDir()
	env := testkit.Environ("CLOSE_API_KEY=sandbox-demo-key", "BULKGUARD_STORE="+redis.URL(),
		"BULKGUARD_SEAL_KEY=MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "XDG_STATE_HOME="+dir)
	var urls []string
	for _, id := range []string{"r1", "r2"} {
		p := testkit.StartT(t, id, bin.Path(t), env, "--transport", "http", "--listen", "127.0.0.1:0",
			"--close-url", base, "--http-token", testToken, "--replica-id", id,
			"--audit-log", filepath.Join(dir, "audit-{replica}.jsonl"))
		urls = append(urls, p.WaitFor(testkit.ListeningURL, testTimeout)[1])
	}
	clients := make([]*client.Client, len(urls))
	for i, u := range urls {
		tr, err := transport.NewStreamableHTTP(u, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = initClient(t, tr, mcp.ProtocolVersion20260728, nil)
	}

	pv := callTool(t, clients[0], "preview_bulk_delete", map[string]any{"s_query": acmeQuery})
	phrase, _ := pv["confirmation_phrase"].(string)
	args := map[string]any{"plan_id": pv["plan_id"], "confirm": phrase}
	created := callTool(t, clients[1], "create_bulk_delete", args)
	if job, _ := created["job"].(map[string]any); job["id"] == nil {
		t.Fatalf("create on r2: %v", created)
	}
	res := callToolResult(t, clients[0], "create_bulk_delete", args)
	if text := testkit.ResultText(res); !res.IsError || !strings.Contains(text, "("+guards.CodePlanConsumed+")") {
		t.Fatalf("replay on r1: %s", text)
	}

	for i, want := range map[string]string{"r1": guards.EventPreview, "r2": guards.EventCreate} {
		recs, err := guards.ReadAuditLog(filepath.Join(dir, "audit-"+i+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range recs {
			found = found || (r.PlanID == pv["plan_id"] && r.Event == want)
		}
		if !found {
			t.Errorf("audit-%s.jsonl has no %s record of the plan", i, want)
		}
	}

	resp, err := http.Get(strings.TrimSuffix(urls[1], "/mcp") + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil || h["replica"] != "r2" || h["store"] != "redis" {
		t.Fatalf("healthz %v (%v)", h, err)
	}
}
