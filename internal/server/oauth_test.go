package server

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/oauth"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

// oauthResource is the resource the test replicas say they are; tokens
// are issued for it.
const oauthResource = "http://127.0.0.1:8080/mcp"

// TestOAuthReplicas: two replicas with --auth oauth behind a balancer, an
// issuer started in the test. A request without a token learns where the
// metadata is; a read-only token can preview but its create is answered
// 403 insufficient_scope (step-up) and deletes nothing; a token with the
// delete scope runs the delete on either replica, the person's subject
// is on the audit records, and the token never reaches Close.
func TestOAuthReplicas(t *testing.T) {
	is := testkit.NewIssuer(t)
	c := newCluster(t, 2, func(cfg *Config) {
		cfg.Auth = AuthOAuth
		cfg.HTTPToken = ""
		cfg.OAuth = oauth.Config{Issuer: is.URL, Resource: oauthResource}
	})
	lb := testkit.NewBalancer(t, c.urls()...)
	reader := is.Token(t, oauthResource, "bob", oauth.DefaultReadScope)
	deleter := is.Token(t, oauthResource, "alice", oauth.DefaultReadScope+" "+oauth.DefaultDeleteScope)
	other := is.Token(t, "https://other.example/mcp", "mallory", oauth.DefaultReadScope+" "+oauth.DefaultDeleteScope)
	metadata := "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"

	for _, tc := range []rawCheck{
		{name: "no token", method: "POST", path: "/mcp", body: initBody, wantStatus: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer resource_metadata="` + metadata + `", scope="bulkguard:read"`}},
		{name: "the shared bearer token is not a JWT", method: "POST", path: "/mcp", auth: "Bearer " + testToken, body: initBody, wantStatus: 401},
		{name: "token for another resource", method: "POST", path: "/mcp", auth: "Bearer " + other, body: initBody, wantStatus: 401},
		{name: "reader initializes", method: "POST", path: "/mcp", auth: "Bearer " + reader, body: initBody, wantStatus: 200},
		{name: "reader creates", method: "POST", path: "/mcp", auth: "Bearer " + reader, wantStatus: 403,
			body: `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_bulk_delete","arguments":{"plan_id":"plan_x"}}}`,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer resource_metadata="` + metadata + `", scope="bulkguard:read bulkguard:delete", error="insufficient_scope", ` +
				`error_description="create_bulk_delete needs the scope bulkguard:delete, which this token lacks; nothing was run"`}},
		{name: "metadata without a token", method: "GET", path: "/.well-known/oauth-protected-resource/mcp", wantStatus: 200},
		{name: "healthz without a token", method: "GET", path: "/healthz", wantStatus: 200},
	} {
		t.Run(tc.name, func(t *testing.T) { do(t, lb.URL, tc) })
	}

	t.Run("metadata names the issuer", func(t *testing.T) {
		resp, err := http.Get(lb.URL + "/.well-known/oauth-protected-resource")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var md struct {
			Resource string   `json:"resource"`
			Servers  []string `json:"authorization_servers"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&md); err != nil || md.Resource != oauthResource || len(md.Servers) != 1 || md.Servers[0] != is.URL {
			t.Fatalf("metadata %+v (%v)", md, err)
		}
	})

	q := c.leads("Kilo", 3)
	var plan string
	t.Run("reader previews, cannot create", func(t *testing.T) {
		m := connectWith(t, lb.URL, "", nil, reader)
		var phrase string
		plan, phrase = preview(t, m, q)
		ctx, cancel := context.WithTimeout(context.Background(), replicaTimeout)
		defer cancel()
		_, err := m.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "create_bulk_delete",
			Arguments: map[string]any{"plan_id": plan, "confirm": phrase}}})
		// mcp-go's client reports the 403 by its error code.
		if err == nil || !strings.Contains(err.Error(), "insufficient_scope") {
			t.Fatalf("reader's create: %v, want the 403 insufficient_scope", err)
		}
		if n := len(c.sb.Jobs()); n != 0 {
			t.Fatalf("%d jobs after a refused create", n)
		}
	})

	t.Run("deleter creates; subject on the audit record", func(t *testing.T) {
		m := connectWith(t, lb.URL, "", nil, deleter)
		var phrase string
		plan, phrase = preview(t, m, q)
		jobID(t, ok(t, m, "create_bulk_delete", map[string]any{"plan_id": plan, "confirm": phrase}))
		found := 0
		for _, r := range c.replicas {
			recs, err := guards.ReadAuditLog(r.audit)
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				if rec.PlanID == plan && (rec.Event == guards.EventCreate || rec.Event == guards.EventCreateIntent) {
					found++
					if rec.Subject != "alice" {
						t.Errorf("%s record names %q, want alice", rec.Event, rec.Subject)
					}
				}
			}
		}
		if found != 2 {
			t.Fatalf("%d create records, want intent and create", found)
		}
	})

	t.Run("the token never reaches Close", func(t *testing.T) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.closeAuth) == 0 {
			t.Fatal("Close saw no requests")
		}
		for _, h := range c.closeAuth {
			for _, tok := range []string{reader, deleter} {
				if strings.Contains(h, tok) || strings.Contains(h, tok[:20]) {
					t.Fatalf("Close received an OAuth token: %q", h)
				}
			}
		}
	})

	t.Run("tool calls without a verified token are refused in the MCP server too", func(t *testing.T) {
		// The in-process client bypasses HTTP: only the tool middleware
		// stands between it and the tools.
		s, cleanup, err := New(Config{Transport: TransportHTTP, Auth: AuthOAuth, AuditLog: t.TempDir() + "/a.jsonl",
			OAuth: oauth.Config{Issuer: is.URL, Resource: oauthResource}})
		if err != nil {
			t.Fatal(err)
		}
		defer cleanup()
		ic, err := client.NewInProcessClient(s.MCP())
		if err != nil {
			t.Fatal(err)
		}
		defer ic.Close()
		testkit.Initialize(t, ic, "in-process", replicaTimeout)
		res := call(t, ic, "preview_bulk_delete", map[string]any{"s_query": q})
		if !res.IsError || !strings.Contains(testkit.ResultText(res), "Refused (unauthorized)") {
			t.Fatalf("in-process call without a token: %s", testkit.ResultText(res))
		}
	})
}

func TestOAuthConfig(t *testing.T) {
	is := testkit.NewIssuer(t)
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"oauth over stdio", Config{Auth: AuthOAuth, OAuth: oauth.Config{Issuer: is.URL, Resource: oauthResource}}, "--transport http"},
		{"oauth over sse", Config{Transport: TransportSSE, Auth: AuthOAuth, OAuth: oauth.Config{Issuer: is.URL, Resource: oauthResource}}, "--transport http"},
		{"unknown auth", Config{Transport: TransportHTTP, Auth: "basic"}, "bearer or oauth"},
		{"issuer that is not one", Config{Transport: TransportHTTP, Auth: AuthOAuth, OAuth: oauth.Config{Issuer: is.URL + "/nope", Resource: oauthResource}}, "metadata"},
		{"shared store without a seal key", Config{Transport: TransportHTTP, Store: "redis://127.0.0.1:1/0"}, SealKeyEnv},
		{"bad store", Config{Store: "mysql://x"}, "--store"},
		{"bad replica id", Config{ReplicaID: "../x"}, "--replica-id"},
		{"Redis that does not answer", Config{Store: "redis://127.0.0.1:1/0", SealKey: testSealKey}, "Redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.AuditLog = t.TempDir() + "/a.jsonl"
			_, cleanup, err := New(tc.cfg)
			if err == nil {
				cleanup()
				t.Fatal("New accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}
