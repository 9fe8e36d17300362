package reliability_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/tools"
)

// bin is the bulkguard binary, built once from the module root exactly as a
// user builds it, the first time a test needs it (tests of the tools alone
// do not wait for a build).
var bin = testkit.Binary{Root: ".."}

func TestMain(m *testing.M) {
	testkit.TempDirMain(m, "bulkguard-reliability-", "reliability", &bin, nil)
}

// proc is a spawned bulkguard whose whole stderr is kept.
type proc = testkit.Proc

// cleanEnv is the caller's environment minus anything that would configure
// bulkguard behind the test's back, plus extra.
func cleanEnv(t *testing.T, extra ...string) []string {
	return testkit.CleanEnv(t, extra...)
}

func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	return testkit.StartT(t, name, bin.Path(t), env, args...)
}

// startSandbox runs `bulkguard sandbox` on a free port and returns its API
// base URL.
func startSandbox(t *testing.T, key string) (*proc, string) {
	t.Helper()
	p := startProc(t, "sandbox", cleanEnv(t), "sandbox", "--listen", "127.0.0.1:0", "--api-key", key,
		"--leads", "300", "--rate-limit", "0", "--delete-rate", "0")
	return p, p.WaitFor(testkit.SandboxBaseURL, 60*time.Second)[1]
}

// startServe runs `bulkguard --transport http` on a free port with args
// and returns the process and its /mcp URL.
func startServe(t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	p := startProc(t, "bulkguard", env, append([]string{"--transport", "http", "--listen", "127.0.0.1:0"}, args...)...)
	return p, p.WaitFor(testkit.ListeningURL, 60*time.Second)[1]
}

// httpClient connects an MCP client over streamable HTTP with headers.
func httpClient(t *testing.T, url string, headers map[string]string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(headers))
	if err != nil {
		t.Fatalf("http client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("client start: %v", err)
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "reliability-test", Version: "1"},
	}}); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

// recorder keeps every tool result as the JSON a client received.
type recorder struct {
	t   *testing.T
	c   *client.Client
	all bytes.Buffer
}

func (r *recorder) call(name string, args any) *mcp.CallToolResult {
	r.t.Helper()
	res := call(r.t, r.c, name, args)
	b, err := json.Marshal(res)
	if err != nil {
		r.t.Fatal(err)
	}
	r.all.Write(b)
	r.all.WriteByte('\n')
	return res
}

// secretForms are the ways a credential could leak: as itself, as the
// Basic header value (key + ":"), and base64 of the bare key.
func secretForms(s string) []string {
	return []string{s, base64.StdEncoding.EncodeToString([]byte(s + ":")), base64.StdEncoding.EncodeToString([]byte(s))}
}

// TestSecretsNeverAppear runs the whole flow through the real binary with a
// recognisable Close API key and HTTP token, at debug log level, including
// error paths, and then looks for either secret in the server's stderr, the
// audit log, every tool result and every HTTP answer.
func TestSecretsNeverAppear(t *testing.T) {
	t.Parallel()
	const (
		apiKey = "closekey_RECOGNISABLE_9f3c7a1e5b2d"
		token  = "httptoken_RECOGNISABLE_4b8e2d6f0a1c"
	)
	_, base := startSandbox(t, apiKey)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	srv, url := startServe(t, cleanEnv(t, "CLOSE_API_KEY="+apiKey),
		"--close-url", base, "--http-token", token, "--audit-log", audit, "--log-level", "debug")

	r := &recorder{t: t, c: httpClient(t, url, map[string]string{"Authorization": "Bearer " + token})}
	for _, kind := range []string{"lead_statuses", "custom_fields", "smart_views", "users"} {
		if res := r.call(toolLookup, map[string]any{"kind": kind}); res.IsError {
			t.Fatalf("lookup %s: %s", kind, text(res))
		}
	}
	// A broad preview for a sample, then a preview of exactly three of
	// those leads, confirmed with the phrase.
	var broad previewOut
	structured(t, r.call(toolPreview, map[string]any{
		"s_query": map[string]any{"type": "and", "queries": []any{
			map[string]any{"type": "object_type", "object_type": "lead"},
			map[string]any{"type": "field_condition",
				"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"},
				"condition": map[string]any{"type": "moment_range", "on_or_after": map[string]any{"type": "fixed_utc", "value": lastYear()}, "before": nil}},
		}},
		"results_limit": 3, "sample_size": 3}), &broad)
	if len(broad.Sample) != 3 {
		t.Fatalf("sample = %+v", broad.Sample)
	}
	var ids []string
	for _, s := range broad.Sample {
		ids = append(ids, s.ID)
	}
	var p previewOut
	structured(t, r.call(toolPreview, map[string]any{"s_query": idQuery(ids)}), &p)
	var c createOut
	structured(t, r.call(toolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &c)
	for i := 0; ; i++ {
		var g getOut
		structured(t, r.call(toolGet, map[string]any{"id": c.Job.ID}), &g)
		if g.Progress.Terminal {
			break
		}
		if i > 400 {
			t.Fatalf("job did not finish: %+v", g)
		}
		time.Sleep(25 * time.Millisecond)
	}
	var l listOut
	structured(t, r.call(toolList, map[string]any{}), &l)
	// Error paths quote Close's answers and the guard's reasons.
	for _, bad := range []struct {
		name string
		args map[string]any
	}{
		{toolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}}, // consumed
		{toolCreate, map[string]any{"plan_id": "plan_neverissued", "confirm": "DELETE 1 LEAD"}},
		{toolPause, map[string]any{"id": c.Job.ID}}, // finished
		{toolGet, map[string]any{"id": "bulkdelete_doesnotexist"}},
		{toolPreview, map[string]any{"smart_view_id": "save_doesnotexist"}},
		{toolPreview, map[string]any{"s_query": map[string]any{"type": "and", "queries": []any{map[string]any{"type": "object_type", "object_type": "lead"}, map[string]any{"type": "bogus"}}}}},
	} {
		if res := r.call(bad.name, bad.args); !res.IsError {
			t.Errorf("%s %v: want an error", bad.name, bad.args)
		}
	}
	// HTTP answers to bad and good bearers.
	var bodies bytes.Buffer
	for _, auth := range []string{"", "Bearer wrong-token-0123456789", "Basic " + base64.StdEncoding.EncodeToString([]byte(apiKey+":"))} {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&bodies, "%d %v %s\n", resp.StatusCode, resp.Header, b)
	}
	healthz := strings.TrimSuffix(url, "/mcp") + "/healthz"
	if resp, err := http.Get(healthz); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&bodies, "%d %v %s\n", resp.StatusCode, resp.Header, b)
	}

	srv.Stop() // shutdown lines are part of stderr too
	logs, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(logs, []byte("\n")); n < 5 || !bytes.Contains(logs, []byte(`"principal":"cred_`)) {
		t.Fatalf("the audit log has %d records and no principal fingerprint; the check below would prove nothing:\n%s", n, logs)
	}
	if !strings.Contains(srv.Output(), "closeapi") {
		t.Errorf("no closeapi debug lines on stderr at --log-level debug; the check below would prove less:\n%s", srv.Output())
	}
	places := map[string]string{
		"stderr":       srv.Output(),
		"audit log":    string(logs),
		"tool results": r.all.String(),
		"HTTP answers": bodies.String(),
	}
	for where, content := range places {
		for _, secret := range append(secretForms(apiKey), secretForms(token)...) {
			if strings.Contains(content, secret) {
				t.Errorf("%s contains a secret (%.12s…)", where, secret)
			}
		}
		// Partial leaks count too: the recognisable middle of each.
		for _, part := range []string{"RECOGNISABLE_9f3c", "RECOGNISABLE_4b8e"} {
			if strings.Contains(content, part) {
				t.Errorf("%s contains part of a secret (%s)", where, part)
			}
		}
	}
}

// rawHTTP sends one request to the server and returns status, headers and
// body. host overrides the Host header when set.
func rawHTTP(t *testing.T, method, url, host string, hdr map[string]string, body io.Reader) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, string(b)
}

// chunked hides the body's length so that only reading it can find the
// limit.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

// TestHTTPSurface checks what the built binary answers at the HTTP level,
// before any tool runs.
func TestHTTPSurface(t *testing.T) {
	t.Parallel()
	const token = "surface-token-0123456789abcdef"
	_, url := startServe(t, cleanEnv(t), "--sandbox", "--leads", "100", "--http-token", token,
		"--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"), "--max-body-bytes", "64KiB")
	root := strings.TrimSuffix(url, "/mcp")
	port := root[strings.LastIndex(root, ":")+1:]
	// initialize needs no session: the probe that reaches the MCP handler.
	ping := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"probe","version":"1"}}}`
	bearer := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
	with := func(extra map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range bearer {
			m[k] = v
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	big := strings.Repeat(" ", 100<<10) + ping
	cases := []struct {
		name       string
		method     string
		path, host string
		hdr        map[string]string
		body       func() io.Reader
		want       int
		wantHeader string // a header that must be present ("Name: fragment")
	}{
		{"valid bearer (control)", "POST", "/mcp", "", bearer, func() io.Reader { return strings.NewReader(ping) }, 200, ""},
		{"missing bearer", "POST", "/mcp", "", with(map[string]string{"Authorization": ""}), func() io.Reader { return strings.NewReader(ping) }, 401, "Www-Authenticate: Bearer"},
		{"wrong bearer", "POST", "/mcp", "", with(map[string]string{"Authorization": "Bearer not-the-token-0123456789"}), func() io.Reader { return strings.NewReader(ping) }, 401, "Www-Authenticate: invalid_token"},
		{"bearer one character short", "POST", "/mcp", "", with(map[string]string{"Authorization": "Bearer " + token[:len(token)-1]}), func() io.Reader { return strings.NewReader(ping) }, 401, ""},
		{"bearer with a suffix", "POST", "/mcp", "", with(map[string]string{"Authorization": "Bearer " + token + "x"}), func() io.Reader { return strings.NewReader(ping) }, 401, ""},
		{"token as Basic credentials", "POST", "/mcp", "", with(map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(token+":"))}), func() io.Reader { return strings.NewReader(ping) }, 401, ""},
		{"token without scheme", "POST", "/mcp", "", with(map[string]string{"Authorization": token}), func() io.Reader { return strings.NewReader(ping) }, 401, ""},
		{"missing bearer on GET", "GET", "/mcp", "", map[string]string{"Accept": "text/event-stream"}, nil, 401, ""},
		{"DNS rebinding: foreign Host", "POST", "/mcp", "evil.example.com", bearer, func() io.Reader { return strings.NewReader(ping) }, 403, ""},
		{"DNS rebinding: foreign Host with the port", "POST", "/mcp", "evil.example.com:" + port, bearer, func() io.Reader { return strings.NewReader(ping) }, 403, ""},
		{"DNS rebinding: localhost look-alike", "POST", "/mcp", "localhost.evil.example.com:" + port, bearer, func() io.Reader { return strings.NewReader(ping) }, 403, ""},
		{"DNS rebinding: foreign Origin", "POST", "/mcp", "", with(map[string]string{"Origin": "http://evil.example.com"}), func() io.Reader { return strings.NewReader(ping) }, 403, ""},
		{"local Origin (control)", "POST", "/mcp", "", with(map[string]string{"Origin": "http://localhost:" + port}), func() io.Reader { return strings.NewReader(ping) }, 200, ""},
		{"body over the limit", "POST", "/mcp", "", bearer, func() io.Reader { return strings.NewReader(big) }, 413, ""},
		{"body over the limit, length unknown", "POST", "/mcp", "", bearer, func() io.Reader { return chunked{strings.NewReader(big)} }, 413, ""},
		{"unknown path", "GET", "/admin", "", bearer, nil, 404, ""},
		{"unknown path without bearer", "POST", "/api/v1/bulk_action/delete/", "", nil, func() io.Reader { return strings.NewReader("{}") }, 404, ""},
		{"root", "GET", "/", "", nil, nil, 404, ""},
		{"below /mcp", "POST", "/mcp/tools", "", bearer, func() io.Reader { return strings.NewReader(ping) }, 404, ""},
		{"SSE endpoint on the streamable transport", "GET", "/sse", "", bearer, nil, 404, ""},
		{"below /healthz", "GET", "/healthz/x", "", nil, nil, 404, ""},
		{"healthz needs no token", "GET", "/healthz", "", nil, nil, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = tc.body()
			}
			status, hdr, b := rawHTTP(t, tc.method, root+tc.path, tc.host, tc.hdr, body)
			if status != tc.want {
				t.Fatalf("status %d, want %d; body: %s", status, tc.want, clip(b))
			}
			if tc.wantHeader != "" {
				name, frag, _ := strings.Cut(tc.wantHeader, ": ")
				if !strings.Contains(hdr.Get(name), frag) {
					t.Errorf("%s = %q, want it to contain %q", name, hdr.Get(name), frag)
				}
			}
			if strings.Contains(b, token) {
				t.Errorf("the answer contains the token")
			}
		})
	}

	t.Run("slow headers are cut by the server", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(root, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		closed := make(chan struct{})
		go func() {
			// Whatever the server does when it gives up (a 408 or a bare
			// close), the read returns.
			_, _ = io.Copy(io.Discard, conn)
			close(closed)
		}()
		if _, err := io.WriteString(conn, "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		// One byte a second for at most a minute: a server without a
		// header timeout would keep this connection for the whole minute.
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for i := 0; i < 60; i++ {
			select {
			case <-closed:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("a")); err != nil {
					return // the server has closed the connection
				}
			}
		}
		t.Fatal("the server kept a connection that sent one header byte a second for a minute")
	})
}

// TestClientKeys: a Close key from a request header is used only with
// --allow-client-keys, and a plan runs only with the credential that
// previewed it.
func TestClientKeys(t *testing.T) {
	t.Parallel()
	const (
		keyA  = "clientkey_A_sandbox_accepts_this"
		keyB  = "clientkey_B_RECOGNISABLE_77aa55"
		token = "clientkeys-token-0123456789abcdef"
	)
	header := tools.ClientKeyHeader
	auth := func(key string) map[string]string {
		h := map[string]string{"Authorization": "Bearer " + token}
		if key != "" {
			h[header] = key
		}
		return h
	}
	serve := func(t *testing.T, extra ...string) (*proc, string) {
		// The built-in sandbox accepts only keyA.
		return startServe(t, cleanEnv(t), append([]string{"--sandbox", "--api-key", keyA, "--leads", "100",
			"--http-token", token, "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl")}, extra...)...)
	}

	t.Run("without --allow-client-keys the header is ignored", func(t *testing.T) {
		t.Parallel()
		srv, url := serve(t)
		// keyB would be refused by the sandbox; the call succeeds because
		// the server uses its own key and ignores the header.
		c := httpClient(t, url, auth(keyB))
		if res := call(t, c, toolLookup, map[string]any{"kind": "users"}); res.IsError {
			t.Fatalf("the header was used: %s", text(res))
		}
		srv.Stop()
		if strings.Contains(srv.Output(), keyB) {
			t.Error("stderr contains the header's key")
		}
	})

	t.Run("with --allow-client-keys plans are bound to the previewing key", func(t *testing.T) {
		t.Parallel()
		srv, url := serve(t, "--allow-client-keys", "--log-level", "debug")
		a := httpClient(t, url, auth(keyA))
		b := httpClient(t, url, auth(keyB))

		// keyB is not a key the sandbox (Close) accepts.
		res := call(t, b, toolLookup, map[string]any{"kind": "users"})
		wantNothingDeleted(t, res, "401")

		var broad previewOut
		structured(t, call(t, a, toolPreview, map[string]any{
			"s_query": map[string]any{"type": "and", "queries": []any{
				map[string]any{"type": "object_type", "object_type": "lead"},
				map[string]any{"type": "field_condition",
					"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"},
					"condition": map[string]any{"type": "moment_range", "on_or_after": map[string]any{"type": "fixed_utc", "value": lastYear()}, "before": nil}},
			}},
			"results_limit": 2}), &broad)
		if !broad.Executable {
			t.Fatalf("preview with key A: %+v", broad)
		}
		// Key B cannot run key A's plan, not even with the right phrase.
		res = call(t, b, toolCreate, map[string]any{"plan_id": broad.PlanID, "confirm": broad.ConfirmationPhrase})
		wantNothingDeleted(t, res, "plan_foreign")
		// Key A can.
		var c createOut
		structured(t, call(t, a, toolCreate, map[string]any{"plan_id": broad.PlanID, "confirm": broad.ConfirmationPhrase}), &c)
		if c.Job.ID == "" || c.Receipt.ResultsLimitSent != 2 {
			t.Fatalf("create with key A: %+v", c)
		}
		srv.Stop()
		for _, k := range []string{keyA, keyB} {
			if strings.Contains(srv.Output(), k) {
				t.Errorf("stderr contains a client key (%.12s…)", k)
			}
		}
	})
}

// lastYear is a moment a year ago: the demo organization's leads are
// created over the two years before now, so "created since lastYear" is a
// broad query that still is not every lead (which the guard refuses as
// match_all).
func lastYear() string { return time.Now().AddDate(-1, 0, 0).UTC().Format(time.RFC3339) }
