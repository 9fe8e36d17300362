package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

const testToken = "test-token-0123456789abcdef"

// httpServer is a running `bulkguard --transport http|sse` subprocess.
type httpServer struct {
	cmd    *exec.Cmd
	stderr *lineWatcher
	addr   string // 127.0.0.1:port
	token  string
}

// startHTTP starts the binary on a free loopback port (--listen 127.0.0.1:0)
// and reads the chosen address from its JSON "listening" log record. With no
// --http-token in args it also reads the generated token from stderr.
func startHTTP(t *testing.T, args ...string) *httpServer {
	t.Helper()
	args = append([]string{"--listen", "127.0.0.1:0", "--log-format", "json", "--leads", "30"}, args...)
	cmd := command(t, nil, args...)
	hs := &httpServer{cmd: cmd, stderr: newLineWatcher()}
	cmd.Stderr = hs.stderr
	var stdout syncBuffer
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if stdout.String() != "" {
			t.Errorf("HTTP transport wrote to stdout: %q", stdout.String())
		}
	})
	line := hs.stderr.waitFor(t, func(l string) bool { return strings.Contains(l, `"msg":"listening"`) })
	var rec struct{ Addr string }
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Addr == "" {
		t.Fatalf("listening record %q: %v", line, err)
	}
	hs.addr = rec.Addr
	hs.token = testToken
	if !slices.Contains(args, "--http-token") {
		tok := hs.stderr.waitFor(t, func(l string) bool { return strings.Contains(l, "Authorization: Bearer ") })
		_, hs.token, _ = strings.Cut(tok, "Authorization: Bearer ")
		hs.token = strings.TrimSpace(hs.token)
		if len(hs.token) < 32 {
			t.Fatalf("generated token %q is too short", hs.token)
		}
		// The token is printed once, and never inside a log record.
		if n := strings.Count(hs.stderr.String(), hs.token); n != 1 {
			t.Errorf("generated token appears %d times on stderr, want once", n)
		}
	}
	return hs
}

// stop sends SIGINT and expects a clean exit (graceful shutdown).
func (hs *httpServer) stop(t *testing.T) {
	t.Helper()
	if err := hs.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	waitExit(t, hs.cmd, 0)
}

type rawCheck struct {
	name       string
	method     string
	path       string
	auth       string // Authorization header; "" = none
	host       string // Host header override
	origin     string // Origin header; "" = none
	body       string
	chunked    bool // send the body without a Content-Length
	wantStatus int
	wantHeader map[string]string
	wantJSON   bool // the body is a JSON object
}

func (hs *httpServer) do(t *testing.T, rc rawCheck) {
	t.Helper()
	var body io.Reader
	if rc.body != "" {
		body = strings.NewReader(rc.body)
		if rc.chunked {
			// Hiding Len makes net/http send Transfer-Encoding: chunked.
			body = struct{ io.Reader }{body}
		}
	}
	req, err := http.NewRequest(rc.method, "http://"+hs.addr+rc.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if rc.auth != "" {
		req.Header.Set("Authorization", rc.auth)
	}
	if rc.host != "" {
		req.Host = rc.host
	}
	if rc.origin != "" {
		req.Header.Set("Origin", rc.origin)
	}
	if rc.body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != rc.wantStatus {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d; body %s", rc.method, rc.path, resp.StatusCode, rc.wantStatus, b)
	}
	for k, v := range rc.wantHeader {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if rc.wantJSON {
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Errorf("body is not a JSON object: %v", err)
		}
	}
}

// bigBody is a syntactically valid JSON-RPC request over the 4 KiB limit the
// tests set with --max-body-bytes.
var bigBody = `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"` + strings.Repeat("x", 8<<10) + `"}}`

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// TestHTTPTransports runs both HTTP transports of the binary over real
// sockets: the flags reach the server (token, body limit, read-only), the
// generated token is printed once, tools/list works through mcp-go's own
// clients, and SIGINT shuts down cleanly. The security checks themselves
// are tested in process in internal/server.
func TestHTTPTransports(t *testing.T) {
	bearer := "Bearer " + testToken
	missing := map[string]string{"WWW-Authenticate": `Bearer realm="bulkguard"`}
	invalid := map[string]string{"WWW-Authenticate": `Bearer realm="bulkguard", error="invalid_token"`}
	tests := []struct {
		name      string
		args      []string
		endpoint  string // the MCP endpoint clients connect to
		checks    []rawCheck
		eras      []string
		wantTools []string
	}{
		{
			name:     "streamable http",
			args:     []string{"--transport", "http", "--http-token", testToken, "--max-body-bytes", "4KiB"},
			endpoint: "/mcp",
			checks: []rawCheck{
				{name: "healthz without token", method: "GET", path: "/healthz", wantStatus: 200, wantJSON: true},
				{name: "no token", method: "POST", path: "/mcp", body: initBody, wantStatus: 401, wantHeader: missing, wantJSON: true},
				{name: "wrong token", method: "POST", path: "/mcp", auth: "Bearer not-the-token-at-all", body: initBody, wantStatus: 401, wantHeader: invalid, wantJSON: true},
				{name: "body over the limit", method: "POST", path: "/mcp", auth: bearer, body: bigBody, wantStatus: 413, wantJSON: true},
			},
			eras:      []string{mcp.ProtocolVersion20251125, mcp.ProtocolVersion20260728},
			wantTools: allTools,
		},
		{
			name:     "sse with generated token, read-only",
			args:     []string{"--transport", "sse", "--read-only", "--max-body-bytes", "4KiB"},
			endpoint: "/sse",
			checks: []rawCheck{
				{name: "healthz without token", method: "GET", path: "/healthz", wantStatus: 200, wantJSON: true},
				{name: "sse no token", method: "GET", path: "/sse", wantStatus: 401, wantHeader: missing, wantJSON: true},
				{name: "wrong token", method: "GET", path: "/sse", auth: "Bearer " + testToken, wantStatus: 401, wantHeader: invalid},
				{name: "body over the limit", method: "POST", path: "/message?sessionId=x", auth: "TOKEN", body: bigBody, wantStatus: 413, wantJSON: true},
			},
			eras:      []string{mcp.ProtocolVersion20251125},
			wantTools: readOnlyTools,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hs := startHTTP(t, tc.args...)
			for _, rc := range tc.checks {
				if rc.auth == "TOKEN" {
					rc.auth = "Bearer " + hs.token
				}
				t.Run(rc.name, func(t *testing.T) { hs.do(t, rc) })
			}
			for _, era := range tc.eras {
				t.Run("tools/list "+era, func(t *testing.T) {
					ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
					defer cancel()
					headers := map[string]string{"Authorization": "Bearer " + hs.token}
					url := "http://" + hs.addr + tc.endpoint
					var tr transport.Interface
					var err error
					if tc.endpoint == "/sse" {
						tr, err = transport.NewSSE(url, transport.WithHeaders(headers))
					} else {
						tr, err = transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(headers))
					}
					if err != nil {
						t.Fatal(err)
					}
					c := initClient(t, tr, era, nil)
					defer c.Close()
					res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
					if err != nil {
						t.Fatalf("tools/list: %v", err)
					}
					if got := toolNames(res); !slices.Equal(got, tc.wantTools) {
						t.Errorf("tools = %v, want %v", got, tc.wantTools)
					}
				})
			}
			hs.stop(t)
			// Credentials never reach a log record.
			for _, rec := range scanJSONLines(hs.stderr.String()) {
				b, _ := json.Marshal(rec)
				if strings.Contains(string(b), hs.token) {
					t.Errorf("a log record contains the bearer token: %s", b)
				}
			}
		})
	}
}

// TestClientKeys checks --allow-client-keys: a per-request X-Close-Api-Key
// is used (a wrong one fails at the Close API, here the sandbox), and
// without the flag the header is ignored.
func TestClientKeys(t *testing.T) {
	tests := []struct {
		name    string
		allow   bool
		key     string
		wantErr bool
	}{
		{"allowed, right key", true, "sandbox-demo-key", false},
		{"allowed, wrong key", true, "not-the-sandbox-key", true},
		{"not allowed, header ignored", false, "not-the-sandbox-key", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--transport", "http", "--http-token", testToken}
			if tc.allow {
				args = append(args, "--allow-client-keys")
			}
			hs := startHTTP(t, args...)
			tr, err := transport.NewStreamableHTTP("http://"+hs.addr+"/mcp", transport.WithHTTPHeaders(map[string]string{
				"Authorization":   "Bearer " + testToken,
				"X-Close-Api-Key": tc.key,
			}))
			if err != nil {
				t.Fatal(err)
			}
			c := initClient(t, tr, mcp.ProtocolVersion20251125, nil)
			res := callToolResult(t, c, "lookup_close_ids", map[string]any{"kind": "lead_statuses"})
			if res.IsError != tc.wantErr {
				t.Errorf("isError = %v, want %v: %s", res.IsError, tc.wantErr, resultText(res))
			}
			if strings.Contains(resultText(res), tc.key) {
				t.Errorf("the result repeats the client's key: %s", resultText(res))
			}
			_ = c.Close()
			hs.stop(t)
			if strings.Contains(hs.stderr.String(), tc.key) {
				t.Error("the client's key reached the log")
			}
		})
	}
}
