package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// sdkClient is the official Go SDK (github.com/modelcontextprotocol/go-sdk),
// a client that shares no code with bulkguard's mcp-go. Its elicitation
// handler plays the person at the keyboard: it reads the form and answers
// as the test tells it to.
type sdkClient struct {
	session *mcp.ClientSession

	mu     sync.Mutex
	answer func(p *mcp.ElicitParams) *mcp.ElicitResult
	asked  []*mcp.ElicitParams
}

// elicit is the SDK's ElicitationHandler.
func (c *sdkClient) elicit(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked = append(c.asked, req.Params)
	if c.answer == nil {
		return &mcp.ElicitResult{Action: "cancel"}, nil
	}
	return c.answer(req.Params), nil
}

// expect sets how the next forms are answered and returns a function that
// reports the forms asked since.
func (c *sdkClient) expect(answer func(p *mcp.ElicitParams) *mcp.ElicitResult) func() []*mcp.ElicitParams {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.answer = answer
	start := len(c.asked)
	return func() []*mcp.ElicitParams {
		c.mu.Lock()
		defer c.mu.Unlock()
		return append([]*mcp.ElicitParams(nil), c.asked[start:]...)
	}
}

func (c *sdkClient) call(t *testing.T, tool string, args map[string]any) toolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := c.session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("go-sdk tools/call %s: %v", tool, err)
	}
	var out toolResult
	out.IsError = res.IsError
	var texts []string
	for _, ct := range res.Content {
		if tc, ok := ct.(*mcp.TextContent); ok {
			texts = append(texts, tc.Text)
		}
	}
	out.Text = strings.Join(texts, "\n")
	if res.StructuredContent != nil {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		out.Structured = b
	}
	return out
}

// bearer adds the Authorization header to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// connectSDK connects a Go SDK client over transport ("stdio", "http", "sse")
// in the given era, with an elicitation handler unless noElicit.
func connectSDK(t *testing.T, transport, version string, noElicit bool, sb *sandboxProc) (*sdkClient, string) {
	t.Helper()
	c := &sdkClient{}
	opts := &mcp.ClientOptions{Capabilities: &mcp.ClientCapabilities{}}
	if !noElicit {
		opts.ElicitationHandler = c.elicit
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "bulkguard-e2e-go-sdk", Version: "1.0.0"}, opts)
	var tr mcp.Transport
	var auditLog string
	switch transport {
	case "stdio":
		args, env, audit := stdioArgs(t, sb)
		cmd := exec.Command(needBinary(t), args...)
		cmd.Env = env
		tr = &mcp.CommandTransport{Command: cmd}
		auditLog = audit
	default:
		srv := startHTTPServer(t, transport, sb)
		hc := &http.Client{Transport: bearer{token: srv.token, next: http.DefaultTransport}}
		if transport == "http" {
			tr = &mcp.StreamableClientTransport{Endpoint: srv.url, HTTPClient: hc, MaxRetries: -1}
		} else {
			tr = &mcp.SSEClientTransport{Endpoint: srv.url, HTTPClient: hc}
		}
		auditLog = srv.auditLog
	}
	// The SSE transport keeps its event stream on the context Connect is
	// given, so it must live as long as the session, not just the handshake.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, err := client.Connect(ctx, tr, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("go-sdk connect over %s (%s): %v", transport, version, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if got := s.InitializeResult().ProtocolVersion; got != version {
		t.Fatalf("negotiated protocol %s, want %s", got, version)
	}
	c.session = s
	return c, auditLog
}

// TestGoSDKFlow runs the whole guarded delete with the official Go SDK over
// stdio and streamable HTTP in both protocol eras, its elicitation handler
// typing the phrase; and, as checks of the fallbacks, over stdio without an
// elicitation handler and over legacy SSE (whose sessions cannot carry a
// server request, so bulkguard asks for the phrase argument even though the
// client declared elicitation).
func TestGoSDKFlow(t *testing.T) {
	t.Parallel()
	needBinary(t)
	const legacy, modern = "2025-11-25", "2026-07-28"
	cases := []struct {
		name, transport, version string
		noElicit, phrasePath     bool
	}{
		{"stdio/legacy", "stdio", legacy, false, false},
		{"stdio/modern", "stdio", modern, false, false},
		{"http/legacy", "http", legacy, false, false},
		{"http/modern", "http", modern, false, false},
		{"stdio/legacy/no-elicitation", "stdio", legacy, true, true},
		{"sse/legacy", "sse", legacy, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sb := startSandbox(t)
			c, auditLog := connectSDK(t, tc.transport, tc.version, tc.noElicit, sb)
			f := flow{c: c, sb: sb, auditLog: auditLog, wantEnv: "sandbox"}
			if tc.phrasePath {
				forms := c.expect(nil)
				f.confirm, f.confirmedBy, f.refusals = phraseConfirm(c), "phrase", phraseRefusals(c)
				f.run(t)
				if asked := forms(); len(asked) != 0 {
					t.Errorf("the server sent %d elicitations to a client that cannot answer them", len(asked))
				}
				return
			}
			// answerWith types s into the form after checking it shows phrase.
			answerWith := func(t *testing.T, phrase string, res *mcp.ElicitResult) func(p *mcp.ElicitParams) *mcp.ElicitResult {
				return func(p *mcp.ElicitParams) *mcp.ElicitResult {
					if !strings.Contains(p.Message, phrase) || (p.Mode != "" && p.Mode != "form") {
						t.Errorf("form message %q (mode %q) does not show %q", p.Message, p.Mode, phrase)
					}
					return res
				}
			}
			try := func(t *testing.T, planID, phrase string, args map[string]any, res *mcp.ElicitResult) toolResult {
				forms := c.expect(answerWith(t, phrase, res))
				args["plan_id"] = planID
				r := c.call(t, "create_bulk_delete", args)
				if n := len(forms()); n != 1 {
					t.Errorf("create_bulk_delete asked %d times, want once", n)
				}
				return r
			}
			f.confirmedBy = "elicitation"
			f.confirm = func(t *testing.T, planID, phrase string) toolResult {
				forms := c.expect(answerWith(t, phrase, &mcp.ElicitResult{Action: "accept", Content: map[string]any{"phrase": phrase}}))
				r := c.call(t, "create_bulk_delete", map[string]any{"plan_id": planID})
				if n := len(forms()); n > 1 {
					t.Errorf("create_bulk_delete asked %d times", n)
				}
				return r
			}
			f.refusals = []attempt{
				{"cancel", func(t *testing.T, planID, phrase string) toolResult {
					return try(t, planID, phrase, map[string]any{}, &mcp.ElicitResult{Action: "cancel"})
				}},
				{"decline", func(t *testing.T, planID, phrase string) toolResult {
					return try(t, planID, phrase, map[string]any{}, &mcp.ElicitResult{Action: "decline"})
				}},
				{"wrong phrase typed", func(t *testing.T, planID, phrase string) toolResult {
					return try(t, planID, phrase, map[string]any{}, &mcp.ElicitResult{Action: "accept", Content: map[string]any{"phrase": "yes"}})
				}},
				{"model-supplied confirm, person cancels", func(t *testing.T, planID, phrase string) toolResult {
					return try(t, planID, phrase, map[string]any{"confirm": phrase}, &mcp.ElicitResult{Action: "cancel"})
				}},
			}
			f.run(t)
		})
	}
}
