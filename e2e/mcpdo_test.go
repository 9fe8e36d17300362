package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// mcpdoClient is the Inspector's connection CLI (`mcpdo`, same npm package):
// a daemon holds one MCP session across many commands, which is what a real
// client does, and it declares elicitation. From a non-terminal a tool call
// that the server answers with an elicitation returns an elicitationPending
// payload at once; `mcpdo elicitation/respond` then answers the parked form
// and prints the final result.
type mcpdoClient struct {
	env  []string
	conn string
}

// elicitationPending is what mcpdo prints when the server asks a question.
type elicitationPending struct {
	ElicitationID   string         `json:"elicitationId"`
	Connection      string         `json:"connection"`
	Method          string         `json:"method"`
	ToolName        string         `json:"toolName"`
	Mode            string         `json:"mode"`
	Message         string         `json:"message"`
	RequestedSchema map[string]any `json:"requestedSchema"`
	Origin          string         `json:"origin"` // server-request (legacy push) or input-required (2026-07-28)
}

// startMcpdo starts a private mcpdo daemon (its own directory and token, so
// parallel tests and a developer's own connections never mix) and connects
// it to the server. target is the stdio command, or the URL with its
// --transport and --header options. elicit is mcpdo's --elicit mode
// ("form", or "off" to declare no elicitation).
func startMcpdo(t *testing.T, era, elicit string, target ...string) *mcpdoClient {
	t.Helper()
	// A short directory: the daemon's Unix socket lives in it.
	dir, err := os.MkdirTemp("", "mcpdo")
	if err != nil {
		t.Fatal(err)
	}
	tok := make([]byte, 16)
	_, _ = rand.Read(tok)
	c := &mcpdoClient{
		env:  append(inspectorEnv(t), "MCP_INSPECTOR_DAEMON_DIR="+dir, "MCP_INSPECTOR_DAEMON_TOKEN="+hex.EncodeToString(tok)),
		conn: "bulkguard",
	}
	// Stop this test's daemon (and with it the stdio server it spawned);
	// registered first so it runs after everything else the test set up.
	t.Cleanup(func() {
		runNPX(t, c.env, 60*time.Second, "mcpdo", "daemon", "stop")
		os.RemoveAll(dir)
	})
	args := append([]string{"--format", "json", "--stored-auth-only", "connect", "--era", era, "--elicit", elicit, "--server", c.conn}, target...)
	r := runNPX(t, c.env, 90*time.Second, "mcpdo", args...)
	var conn struct {
		Name        string `json:"name"`
		ProtocolEra string `json:"protocolEra"`
	}
	if r.rc != 0 || json.Unmarshal([]byte(lastJSONBlock(r.stdout)), &conn) != nil {
		t.Fatalf("mcpdo connect: rc=%d\nstdout: %s\nstderr: %s", r.rc, r.stdout, r.stderr)
	}
	if conn.Name != c.conn || conn.ProtocolEra != era {
		t.Fatalf("mcpdo connect: connection %q era %q, want %q %q", conn.Name, conn.ProtocolEra, c.conn, era)
	}
	return c
}

// lastJSONBlock returns the pretty-printed JSON document mcpdo prints last
// (status lines may precede it).
func lastJSONBlock(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n{"); i >= 0 && !json.Valid([]byte(s)) {
		for i >= 0 {
			if json.Valid([]byte(s[i+1:])) {
				return s[i+1:]
			}
			j := strings.Index(s[i+1:], "\n{")
			if j < 0 {
				break
			}
			i += j + 1
		}
	}
	return s
}

// callRaw runs one tools/call and returns either its result or the
// elicitation the server asked for.
func (c *mcpdoClient) callRaw(t *testing.T, tool string, args map[string]any) (toolResult, *elicitationPending) {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	r := runNPX(t, c.env, 90*time.Second, "mcpdo", "--format", "json", "--conn", c.conn, "tools/call", "--tool-name", tool, "--tool-args-json", string(js))
	return c.parse(t, "tools/call "+tool, r)
}

func (c *mcpdoClient) parse(t *testing.T, what string, r npxResult) (toolResult, *elicitationPending) {
	t.Helper()
	out := lastJSONBlock(r.stdout)
	var probe struct {
		Pending *elicitationPending `json:"elicitationPending"`
		callToolResult
	}
	if err := json.Unmarshal([]byte(out), &probe); err != nil {
		t.Fatalf("mcpdo %s: rc=%d, output is not JSON: %v\nstdout: %s\nstderr: %s", what, r.rc, err, r.stdout, r.stderr)
	}
	if probe.Pending != nil {
		if r.rc != 0 {
			t.Errorf("mcpdo %s: rc=%d with a pending elicitation", what, r.rc)
		}
		return toolResult{}, probe.Pending
	}
	if probe.Content == nil {
		t.Fatalf("mcpdo %s: rc=%d, no tool result\nstdout: %s\nstderr: %s", what, r.rc, r.stdout, r.stderr)
	}
	return probe.toolResult(), nil
}

func (c *mcpdoClient) call(t *testing.T, tool string, args map[string]any) toolResult {
	t.Helper()
	res, pending := c.callRaw(t, tool, args)
	if pending != nil {
		t.Fatalf("%s asked an unexpected question: %+v", tool, pending)
	}
	return res
}

// respond answers a parked elicitation: with form content, or "--cancel" /
// "--decline".
func (c *mcpdoClient) respond(t *testing.T, id string, answer ...string) toolResult {
	t.Helper()
	r := runNPX(t, c.env, 90*time.Second, "mcpdo", append([]string{"--format", "json", "elicitation/respond", id}, answer...)...)
	res, pending := c.parse(t, "elicitation/respond", r)
	if pending != nil {
		t.Fatalf("the server asked again after the answer: %+v", pending)
	}
	return res
}

// form starts create_bulk_delete for planID and checks the confirmation form
// the server sends: it names the phrase and asks for exactly one string,
// "phrase". args may carry a confirm argument, which must not skip the form.
func (c *mcpdoClient) form(t *testing.T, args map[string]any, phrase, wantOrigin string) *elicitationPending {
	t.Helper()
	res, p := c.callRaw(t, "create_bulk_delete", args)
	if p == nil {
		t.Fatalf("create_bulk_delete did not ask for confirmation through the form: %+v", res)
	}
	if p.ToolName != "create_bulk_delete" || p.Mode != "form" || p.Origin != wantOrigin || !strings.Contains(p.Message, phrase) {
		t.Errorf("elicitation %+v: want a form for create_bulk_delete (origin %s) whose message names %q", p, wantOrigin, phrase)
	}
	props, _ := p.RequestedSchema["properties"].(map[string]any)
	if _, ok := props["phrase"]; !ok || len(props) != 1 {
		t.Errorf("requested schema %v: want one field, phrase", p.RequestedSchema)
	}
	return p
}

func typed(phrase string) string {
	b, _ := json.Marshal(map[string]string{"phrase": phrase})
	return string(b)
}

// TestMcpdoFlow runs the whole guarded delete with the Inspector's mcpdo:
// over stdio and streamable HTTP, in both protocol eras, the person is asked
// through the elicitation form and types the phrase; cancel, decline, a wrong
// phrase and a model-supplied confirm argument never delete anything. With
// `--elicit off` mcpdo declares no elicitation and the phrase argument is
// the way to confirm.
func TestMcpdoFlow(t *testing.T) {
	t.Parallel()
	needNode(t)
	needBinary(t)
	cases := []struct {
		name, transport, era, elicit string
		quick                        bool
	}{
		{"stdio/legacy", "stdio", "legacy", "form", false},
		{"stdio/modern", "stdio", "modern", "form", false},
		{"http/legacy", "http", "legacy", "form", false},
		{"stdio/legacy/elicit-off", "stdio", "legacy", "off", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := startSandbox(t)
			var target []string
			var auditLog string
			if tc.transport == "stdio" {
				args, env, audit := stdioArgs(t, sb)
				target = []string{"--transport", "stdio", "--", wrapperScript(t, args, env)}
				auditLog = audit
			} else {
				srv := startHTTPServer(t, tc.transport, sb)
				// The URL first: --header takes every following word up to the next option.
				target = []string{srv.url, "--transport", tc.transport, "--header", "Authorization: Bearer " + srv.token}
				auditLog = srv.auditLog
			}
			c := startMcpdo(t, tc.era, tc.elicit, target...)
			f := flow{c: c, sb: sb, auditLog: auditLog, wantEnv: "sandbox"}
			if tc.elicit == "off" {
				f.confirm, f.confirmedBy, f.refusals = phraseConfirm(c), "phrase", phraseRefusals(c)[:1]
				f.quick = tc.quick
				f.run(t)
				return
			}
			// mcp-go bridges legacy clients with a server-initiated
			// elicitation/create; 2026-07-28 clients get input_required.
			origin := "server-request"
			if tc.era == "modern" {
				origin = "input-required"
			}
			f.confirmedBy = "elicitation"
			f.confirm = func(t *testing.T, planID, phrase string) toolResult {
				res, p := c.callRaw(t, "create_bulk_delete", map[string]any{"plan_id": planID})
				if p == nil {
					// A used plan is refused before any form is shown.
					return res
				}
				return c.respond(t, p.ElicitationID, typed(phrase))
			}
			f.refusals = []attempt{
				{"model-supplied confirm, person cancels", func(t *testing.T, planID, phrase string) toolResult {
					// The model fills in confirm itself: the form is shown anyway.
					p := c.form(t, map[string]any{"plan_id": planID, "confirm": phrase}, phrase, origin)
					return c.respond(t, p.ElicitationID, "--cancel")
				}},
				{"decline", func(t *testing.T, planID, phrase string) toolResult {
					p := c.form(t, map[string]any{"plan_id": planID}, phrase, origin)
					return c.respond(t, p.ElicitationID, "--decline")
				}},
				{"wrong phrase typed", func(t *testing.T, planID, phrase string) toolResult {
					p := c.form(t, map[string]any{"plan_id": planID}, phrase, origin)
					return c.respond(t, p.ElicitationID, typed(strings.ToLower(phrase)))
				}},
			}
			if tc.quick {
				// Each mcpdo command costs seconds in the modern era; the
				// other answers are covered by the legacy and HTTP cases
				// and by the Go SDK.
				f.refusals, f.quick = f.refusals[:1], true
			}
			f.run(t)
		})
	}
}
