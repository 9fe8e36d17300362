package e2e

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// phraseRefusals are the creates a client without elicitation can attempt
// that must be refused: no phrase, and phrases that are not the one shown.
func phraseRefusals(c mcpClient) []attempt {
	return []attempt{
		{"no phrase", func(t *testing.T, planID, _ string) toolResult {
			return c.call(t, "create_bulk_delete", map[string]any{"plan_id": planID})
		}},
		{"lower-case phrase", func(t *testing.T, planID, phrase string) toolResult {
			return c.call(t, "create_bulk_delete", map[string]any{"plan_id": planID, "confirm": strings.ToLower(phrase)})
		}},
		{"another count", func(t *testing.T, planID, _ string) toolResult {
			return c.call(t, "create_bulk_delete", map[string]any{"plan_id": planID, "confirm": "DELETE 100000 LEADS"})
		}},
	}
}

func phraseConfirm(c mcpClient) func(t *testing.T, planID, phrase string) toolResult {
	return func(t *testing.T, planID, phrase string) toolResult {
		return c.call(t, "create_bulk_delete", map[string]any{"plan_id": planID, "confirm": phrase})
	}
}

// TestInspectorToolsListStrict lists the tools with the Inspector's
// schema-portability lint over every transport and both protocol eras.
func TestInspectorToolsListStrict(t *testing.T) {
	t.Parallel()
	needNode(t)
	needBinary(t)
	env := inspectorEnv(t)
	httpSrv := startHTTPServer(t, "http", nil)
	sseSrv := startHTTPServer(t, "sse", nil)
	stdioArgs := func(extra ...string) []string {
		return append([]string{"--sandbox", "--log-format", "json", "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl")}, extra...)
	}
	stdio := []string{wrapperScript(t, stdioArgs(), cleanEnv(t))}
	stdioRO := []string{wrapperScript(t, stdioArgs("--read-only"), cleanEnv(t))}

	cases := []struct {
		name   string
		target []string
		era    string
		want   []string
	}{
		{"stdio/legacy", stdio, "legacy", allTools},
		{"stdio/modern", stdio, "modern", allTools},
		{"stdio/read-only", stdioRO, "legacy", readOnlyTools},
		{"http/legacy", httpTarget(httpSrv, "http", testToken), "legacy", allTools},
		{"http/modern", httpTarget(httpSrv, "http", testToken), "modern", allTools},
		{"sse/legacy", httpTarget(sseSrv, "sse", testToken), "legacy", allTools},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := inspector(t, env, append(append([]string{"--protocol-era", tc.era}, tc.target...), "--method", "tools/list", "--strict")...)
			if r.rc != rcOK {
				t.Fatalf("tools/list --strict: rc=%d (6 = schema not portable)\nstdout: %s\nstderr: %s", r.rc, r.stdout, r.stderr)
			}
			if got := toolNames(t, r.stdout); !slices.Equal(got, tc.want) {
				t.Errorf("tools = %v, want %v (sorted by name)", got, tc.want)
			}
		})
	}

	// HTTP+SSE is the legacy transport: the Inspector's SSE client does not
	// send the Mcp-Method header that 2026-07-28 requests must carry, and
	// mcp-go rejects the request. This pins the behaviour so that a change on
	// either side is noticed (and the README's "SSE is for older clients"
	// stays true).
	t.Run("sse/modern", func(t *testing.T) {
		t.Parallel()
		r := inspector(t, env, append(append([]string{"--protocol-era", "modern"}, httpTarget(sseSrv, "sse", testToken)...), "--method", "tools/list")...)
		if r.rc != rcError || !strings.Contains(r.stdout+r.stderr, "Mcp-Method") {
			t.Fatalf("modern era over SSE: rc=%d, want 1 with a Mcp-Method header mismatch\nstdout: %s\nstderr: %s", r.rc, r.stdout, r.stderr)
		}
	})
}

// TestInspectorFlow runs the whole guarded delete with the one-shot
// Inspector CLI over streamable HTTP (both eras) and SSE (legacy). The
// Inspector CLI 2.12.0 does not declare elicitation, so bulkguard asks for the
// typed phrase in `confirm`.
func TestInspectorFlow(t *testing.T) {
	t.Parallel()
	needNode(t)
	needBinary(t)
	for _, tc := range []struct{ transport, era string }{{"http", "legacy"}, {"http", "modern"}, {"sse", "legacy"}} {
		t.Run(tc.transport+"/"+tc.era, func(t *testing.T) {
			t.Parallel()
			sb := startSandbox(t)
			srv := startHTTPServer(t, tc.transport, sb)
			c := inspectorClient{env: inspectorEnv(t), target: httpTarget(srv, tc.transport, srv.token), era: tc.era}
			flow{
				c: c, sb: sb, auditLog: srv.auditLog, wantEnv: "sandbox",
				confirm: phraseConfirm(c), confirmedBy: "phrase",
				refusals: phraseRefusals(c),
			}.run(t)
		})
	}
}

// TestInspectorStdioPlanPerProcess: the one-shot CLI starts a new stdio
// server for every call, and plans live in the server's memory. A plan
// previewed by one process is unknown to the next, so the create is refused
// and nothing is deleted: a stdio client must keep its session (as every
// real client does; see TestMcpdoFlow for the Inspector's own session CLI).
func TestInspectorStdioPlanPerProcess(t *testing.T) {
	t.Parallel()
	needNode(t)
	sb := startSandbox(t)
	args, env, _ := stdioArgs(t, sb)
	c := inspectorClient{env: inspectorEnv(t), target: []string{wrapperScript(t, args, env)}, era: "legacy"}
	statID := badFit(t, c, "sandbox", true)
	ids, _ := sb.search(t, statusQuery(statID))
	p := preview(t, c, statusQuery(statID), ids, "sandbox")
	r := phraseConfirm(c)(t, p.PlanID, p.ConfirmationPhrase)
	refused(t, "create in a new server process", r)
	if !strings.Contains(r.Text, p.PlanID) && !strings.Contains(strings.ToLower(r.Text), "plan") {
		t.Errorf("refusal does not say the plan is unknown: %s", r.Text)
	}
	noJobs(t, c, "sandbox")
	for _, id := range ids {
		if !sb.leadExists(t, id) {
			t.Fatalf("lead %s deleted by a refused create", id)
		}
	}
}

// TestInspectorConfirmElicitRefuses: with --confirm elicit, a client that
// cannot show a form (the Inspector CLI) cannot delete, even with the phrase.
func TestInspectorConfirmElicitRefuses(t *testing.T) {
	t.Parallel()
	needNode(t)
	sb := startSandbox(t)
	srv := startHTTPServer(t, "http", sb, "--confirm", "elicit")
	c := inspectorClient{env: inspectorEnv(t), target: httpTarget(srv, "http", srv.token), era: "legacy"}
	statID := badFit(t, c, "sandbox", true)
	ids, _ := sb.search(t, statusQuery(statID))
	p := preview(t, c, statusQuery(statID), ids, "sandbox")
	r := phraseConfirm(c)(t, p.PlanID, p.ConfirmationPhrase)
	refused(t, "create with --confirm elicit and no elicitation", r)
	if !strings.Contains(r.Text, "form") {
		t.Errorf("refusal does not explain that a confirmation form is required: %s", r.Text)
	}
	noJobs(t, c, "sandbox")
	for _, id := range ids {
		if !sb.leadExists(t, id) {
			t.Fatalf("lead %s deleted by a refused create", id)
		}
	}
}

// TestInspectorBearerToken: HTTP transports refuse a wrong or missing bearer
// token. The Inspector reports that as AUTH_REQUIRED (exit 3); with
// --stored-auth-only it does not try an interactive OAuth login.
func TestInspectorBearerToken(t *testing.T) {
	t.Parallel()
	needNode(t)
	needBinary(t)
	env := inspectorEnv(t)
	for _, transport := range []string{"http", "sse"} {
		srv := startHTTPServer(t, transport, nil)
		// Runs after the parallel subtests, before the server stops.
		t.Cleanup(func() {
			if strings.Contains(srv.Output(), testToken) || strings.Contains(srv.Output(), "not-the-token") {
				t.Errorf("%s server log contains a bearer token", transport)
			}
		})
		for _, tc := range []struct{ name, token string }{{"wrong token", "not-the-token-0123456789"}, {"no token", ""}} {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r := inspector(t, env, append(httpTarget(srv, transport, tc.token), "--method", "tools/list")...)
				if r.rc != rcAuthRequired || !strings.Contains(r.stdout+r.stderr, "auth_required") {
					t.Fatalf("rc=%d, want %d auth_required\nstdout: %s\nstderr: %s", r.rc, rcAuthRequired, r.stdout, r.stderr)
				}
			})
		}
		t.Run(transport+"/raw HTTP", func(t *testing.T) {
			for _, tc := range []struct{ auth, wantChallenge string }{
				{"", `Bearer realm="bulkguard"`},
				{"Bearer not-the-token-0123456789", `Bearer realm="bulkguard", error="invalid_token"`},
				{"Basic " + testToken, `Bearer realm="bulkguard"`},
			} {
				req, _ := http.NewRequest(http.MethodPost, srv.url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
				if transport == "sse" {
					req, _ = http.NewRequest(http.MethodGet, srv.url, nil)
				}
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != tc.wantChallenge {
					t.Errorf("Authorization %q: %d %q, want 401 %q", tc.auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), tc.wantChallenge)
				}
			}
			resp, err := http.Get(srv.base + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /healthz without a token: %d, want 200", resp.StatusCode)
			}
		})
	}
}
