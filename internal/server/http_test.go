package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/sandbox"
)

const testToken = "test-token-0123456789abcdef"

// bigBody is a syntactically valid JSON-RPC request over the 4 KiB limit
// the tests set.
var bigBody = `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"` + strings.Repeat("x", 8<<10) + `"}}`

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// newTestServer builds a server on a small in-process sandbox and serves
// its Handler on a loopback httptest server with the listener settings of
// the binary (newHTTPServer).
func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	cfg.SandboxOptions = sandbox.Options{Seed: 1, Leads: 20}
	cfg.AuditLog = filepath.Join(t.TempDir(), "audit.jsonl")
	cfg.Version = "test"
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 4 << 10
	}
	s, cleanup, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(cleanup)
	h, shutdown := s.Handler()
	ts := httptest.NewUnstartedServer(h)
	ts.Config = newHTTPServer(h, slog.New(slog.DiscardHandler), s.cfg.ReadHeaderTimeout)
	ts.Start()
	t.Cleanup(func() {
		shutdown(context.Background())
		ts.Close()
	})
	return s, ts
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
	wantError  string // the JSON body's "error"; "" = not checked
	wantText   string // in the JSON body's "message"
}

func do(t *testing.T, base string, rc rawCheck) {
	t.Helper()
	var body io.Reader
	if rc.body != "" {
		body = strings.NewReader(rc.body)
		if rc.chunked {
			// Hiding Len makes net/http send Transfer-Encoding: chunked.
			body = struct{ io.Reader }{body}
		}
	}
	req, err := http.NewRequest(rc.method, base+rc.path, body)
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
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != rc.wantStatus {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d; body %s", rc.method, rc.path, resp.StatusCode, rc.wantStatus, b)
	}
	for k, v := range rc.wantHeader {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if rc.wantError == "" && rc.wantText == "" {
		return
	}
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object of strings: %v", err)
	}
	if m["error"] != rc.wantError {
		t.Errorf("error %q, want %q (%v)", m["error"], rc.wantError, m)
	}
	if !strings.Contains(m["message"], rc.wantText) {
		t.Errorf("message %q lacks %q", m["message"], rc.wantText)
	}
}

// TestHandlerSecurity: bearer token, Host and Origin checks, body limit and
// routing of both HTTP transports, in process.
func TestHandlerSecurity(t *testing.T) {
	bearer := "Bearer " + testToken
	missing := map[string]string{"WWW-Authenticate": `Bearer realm="bulkguard"`}
	invalid := map[string]string{"WWW-Authenticate": `Bearer realm="bulkguard", error="invalid_token"`}
	noStore := map[string]string{"Cache-Control": "no-store", "Content-Type": "application/json"}
	tests := []struct {
		transport string
		checks    []rawCheck
	}{
		{TransportHTTP, []rawCheck{
			{name: "healthz without token", method: "GET", path: "/healthz", wantStatus: 200, wantHeader: noStore},
			{name: "no token", method: "POST", path: "/mcp", body: initBody, wantStatus: 401, wantHeader: missing, wantError: "unauthorized", wantText: "missing bearer token"},
			{name: "wrong token", method: "POST", path: "/mcp", auth: "Bearer not-the-token-at-all", body: initBody, wantStatus: 401, wantHeader: invalid, wantError: "unauthorized", wantText: "invalid bearer token"},
			{name: "token prefix", method: "POST", path: "/mcp", auth: bearer[:len(bearer)-1], body: initBody, wantStatus: 401, wantHeader: invalid},
			{name: "token with a suffix", method: "POST", path: "/mcp", auth: bearer + "x", body: initBody, wantStatus: 401, wantHeader: invalid},
			{name: "scheme without token", method: "POST", path: "/mcp", auth: "Bearer ", body: initBody, wantStatus: 401, wantHeader: missing},
			{name: "basic auth is not bearer", method: "POST", path: "/mcp", auth: "Basic " + testToken, body: initBody, wantStatus: 401, wantHeader: missing},
			{name: "token with lowercase scheme", method: "POST", path: "/mcp", auth: "bearer " + testToken, body: initBody, wantStatus: 200},
			{name: "token with extra spaces", method: "POST", path: "/mcp", auth: "  Bearer   " + testToken + " ", body: initBody, wantStatus: 200},
			{name: "dns rebinding", method: "POST", path: "/mcp", auth: bearer, host: "evil.example:80", body: initBody, wantStatus: 403},
			{name: "foreign origin", method: "POST", path: "/mcp", auth: bearer, origin: "http://evil.example.com", body: initBody, wantStatus: 403, wantError: "forbidden", wantText: "Origin"},
			{name: "foreign origin without token", method: "POST", path: "/mcp", origin: "http://evil.example.com", body: initBody, wantStatus: 403, wantError: "forbidden"},
			{name: "loopback origin", method: "POST", path: "/mcp", auth: bearer, origin: "http://localhost:6274", body: initBody, wantStatus: 200},
			{name: "loopback ip origin", method: "POST", path: "/mcp", auth: bearer, origin: "http://127.0.0.1:6274", body: initBody, wantStatus: 200},
			{name: "unparsable origin", method: "POST", path: "/mcp", auth: bearer, origin: "::not a url", body: initBody, wantStatus: 403},
			{name: "body over the limit", method: "POST", path: "/mcp", auth: bearer, body: bigBody, wantStatus: 413, wantError: "request_too_large", wantText: "larger than 4KiB"},
			{name: "chunked body over the limit", method: "POST", path: "/mcp", auth: bearer, body: bigBody, chunked: true, wantStatus: 413, wantError: "request_too_large"},
			{name: "chunked body under the limit", method: "POST", path: "/mcp", auth: bearer, body: initBody, chunked: true, wantStatus: 200},
			{name: "body limit needs the token first", method: "POST", path: "/mcp", body: bigBody, wantStatus: 401},
			{name: "unknown path", method: "GET", path: "/nope", wantStatus: 404},
			{name: "sse path not served", method: "GET", path: "/sse", auth: bearer, wantStatus: 404},
		}},
		{TransportSSE, []rawCheck{
			{name: "healthz without token", method: "GET", path: "/healthz", wantStatus: 200},
			{name: "sse no token", method: "GET", path: "/sse", wantStatus: 401, wantHeader: missing, wantError: "unauthorized"},
			{name: "message no token", method: "POST", path: "/message?sessionId=x", body: initBody, wantStatus: 401, wantHeader: missing},
			{name: "wrong token", method: "GET", path: "/sse", auth: "Bearer " + strings.Repeat("y", len(testToken)), wantStatus: 401, wantHeader: invalid},
			{name: "dns rebinding", method: "GET", path: "/sse", auth: bearer, host: "evil.example", wantStatus: 403},
			{name: "foreign origin", method: "GET", path: "/sse", auth: bearer, origin: "https://evil.example.com", wantStatus: 403, wantError: "forbidden"},
			{name: "body over the limit", method: "POST", path: "/message?sessionId=x", auth: bearer, body: bigBody, wantStatus: 413, wantError: "request_too_large"},
			{name: "unknown path", method: "GET", path: "/mcp", auth: bearer, wantStatus: 404},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.transport, func(t *testing.T) {
			_, ts := newTestServer(t, Config{Transport: tc.transport, HTTPToken: testToken})
			for _, rc := range tc.checks {
				t.Run(rc.name, func(t *testing.T) { do(t, ts.URL, rc) })
			}
		})
	}
}

// TestHealthz: the health document names the transport, the environment
// and the version, without a token.
func TestHealthz(t *testing.T) {
	_, ts := newTestServer(t, Config{Transport: TransportSSE, HTTPToken: testToken})
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var got map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"status": "ok", "transport": "sse", "environment": EnvSandbox, "version": "test"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("healthz %s = %q, want %q (%v)", k, got[k], v, got)
		}
	}
}

// TestGeneratedToken: without HTTPToken, New generates a 256-bit token,
// prints it once to Stderr, and the handler accepts exactly it.
func TestGeneratedToken(t *testing.T) {
	var stderr strings.Builder
	s, ts := newTestServer(t, Config{Transport: TransportHTTP, Stderr: &stderr})
	_, tok, ok := strings.Cut(stderr.String(), "Authorization: Bearer ")
	tok = strings.TrimSpace(tok)
	if !ok || len(tok) < 43 || tok != s.token {
		t.Fatalf("stderr %q does not carry the generated token", stderr.String())
	}
	do(t, ts.URL, rawCheck{method: "POST", path: "/mcp", auth: "Bearer " + tok, body: initBody, wantStatus: 200})
	do(t, ts.URL, rawCheck{method: "POST", path: "/mcp", auth: "Bearer " + testToken, body: initBody, wantStatus: 401})

	s2, _ := newTestServer(t, Config{Transport: TransportHTTP, Stderr: io.Discard})
	if s2.token == s.token {
		t.Error("two servers generated the same token")
	}
}

// TestDeadlines: a client that stalls in its headers or its body is cut
// off after ReadHeaderTimeout or BodyReadTimeout, with no WriteTimeout or
// ReadTimeout that would end long-lived streams.
func TestDeadlines(t *testing.T) {
	const short = 200 * time.Millisecond
	s, ts := newTestServer(t, Config{Transport: TransportHTTP, HTTPToken: testToken, ReadHeaderTimeout: short, BodyReadTimeout: short})
	if ts.Config.ReadHeaderTimeout != short || ts.Config.ReadTimeout != 0 || ts.Config.WriteTimeout != 0 || ts.Config.MaxHeaderBytes != 64<<10 {
		t.Errorf("listener timeouts: %+v", ts.Config)
	}
	if srv := NewHTTPServer(http.NotFoundHandler(), s.log); srv.ReadHeaderTimeout != defaultReadHeaderTimeout || srv.ReadTimeout != 0 || srv.WriteTimeout != 0 {
		t.Errorf("NewHTTPServer timeouts: %+v", srv)
	}
	addr := strings.TrimPrefix(ts.URL, "http://")
	tests := []struct {
		name string
		sent string // what the client sends before it stalls
		// wantStatus is the answer before the server closes the connection;
		// 0 means none (net/http drops a connection whose headers time out).
		wantStatus int
	}{
		{"stalled headers", "POST /mcp HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + testToken + "\r\n", 0},
		{"stalled body", "POST /mcp HTTP/1.1\r\nHost: " + addr + "\r\nAuthorization: Bearer " + testToken +
			"\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"jsonrpc\":", http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			if _, err := io.WriteString(conn, tc.sent); err != nil {
				t.Fatal(err)
			}
			// A safety net far above the server's deadline: a server that
			// never cuts the client off fails here instead of hanging.
			if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			if tc.wantStatus != 0 {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("no answer to a stalled request: %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != tc.wantStatus || !strings.Contains(string(b), "could not read the request body") {
					t.Errorf("status %d, body %s; want %d", resp.StatusCode, b, tc.wantStatus)
				}
			}
			_, err = br.ReadByte()
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the server kept the stalled connection open")
			}
			if err == nil {
				t.Error("the server sent more than expected")
			}
		})
	}
}

// TestOriginAllowed covers the Origin rule: loopback, or the host the
// request was sent to.
func TestOriginAllowed(t *testing.T) {
	tests := []struct {
		origin, host string
		want         bool
	}{
		{"http://localhost:6274", "127.0.0.1:8080", true},
		{"http://127.0.0.1", "example.com", true},
		{"http://[::1]:3000", "example.com", true},
		{"https://bulkguard.example.com", "bulkguard.example.com", true},
		{"https://BulkGuard.example.com", "bulkguard.example.com:443", true},
		{"http://[2001:db8::1]:1", "[2001:db8::1]:8080", true},
		{"https://evil.example.com", "bulkguard.example.com", false},
		{"https://bulkguard.example.com.evil.example", "bulkguard.example.com", false},
		{"null", "127.0.0.1:8080", false},
		{"::not a url", "127.0.0.1:8080", false},
		{"file:///etc/passwd", "127.0.0.1:8080", false},
	}
	for _, tc := range tests {
		t.Run(tc.origin+" to "+tc.host, func(t *testing.T) {
			if got := originAllowed(tc.origin, tc.host); got != tc.want {
				t.Errorf("originAllowed(%q, %q) = %v, want %v", tc.origin, tc.host, got, tc.want)
			}
		})
	}
}

// TestServeListener: the HTTP transport serves until ctx is cancelled, then
// shuts down gracefully and returns nil.
func TestServeListener(t *testing.T) {
	for _, tr := range []string{TransportHTTP, TransportSSE} {
		t.Run(tr, func(t *testing.T) {
			s, cleanup, err := New(Config{Transport: tr, HTTPToken: testToken, AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"),
				SandboxOptions: sandbox.Options{EmptyOrg: true}})
			if err != nil {
				t.Fatal(err)
			}
			defer cleanup()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- s.ServeListener(ctx, ln) }()
			resp, err := http.Get(fmt.Sprintf("http://%s/healthz", ln.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("healthz: %d", resp.StatusCode)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("ServeListener after cancel: %v", err)
				}
			case <-time.After(ShutdownTimeout + 5*time.Second):
				t.Fatal("ServeListener did not return after cancel")
			}
		})
	}
}

// TestSlowBodyRefusals: a request refused before its body is read (no
// token, a foreign Origin, an unknown path, a declared length over the
// limit) is answered at once although its body trickles in, and its
// connection is closed, instead of waiting as long as the client sends.
func TestSlowBodyRefusals(t *testing.T) {
	_, ts := newTestServer(t, Config{Transport: TransportHTTP, HTTPToken: testToken, BodyReadTimeout: time.Hour})
	addr := strings.TrimPrefix(ts.URL, "http://")
	auth := "Authorization: Bearer " + testToken + "\r\n"
	tests := []struct {
		name, path, headers, length string
		wantStatus                  int
	}{
		{"no token", "/mcp", "", "200", http.StatusUnauthorized},
		{"wrong token", "/mcp", "Authorization: Bearer wrong-token-0123456789\r\n", "200", http.StatusUnauthorized},
		{"foreign origin", "/mcp", auth + "Origin: https://evil.example.com\r\n", "200", http.StatusForbidden},
		{"unknown path", "/nope", auth, "200", http.StatusNotFound},
		{"healthz with a body", "/healthz", "", "200", http.StatusMethodNotAllowed},
		{"declared length over the limit", "/mcp", auth, "100000", http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			req := "POST " + tc.path + " HTTP/1.1\r\nHost: " + addr + "\r\n" + tc.headers +
				"Content-Type: application/json\r\nContent-Length: " + tc.length + "\r\n\r\n{\"jsonrpc\":"
			if _, err := io.WriteString(conn, req); err != nil {
				t.Fatal(err)
			}
			// The body never comes; a server that waits for it fails here.
			if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer while the body trickles in: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if _, err := br.ReadByte(); err == nil {
				t.Error("the server sent more than one answer")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Error("the server kept the connection open for the rest of an unwanted body")
			}
		})
	}
}

// TestShutdownWithSlowClients: many clients stalled in their bodies do not
// hold a shutdown past its grace: ServeListener returns nil and every one
// of them gets an answer or a closed connection.
func TestShutdownWithSlowClients(t *testing.T) {
	const clients = 200
	s, cleanup, err := New(Config{Transport: TransportHTTP, HTTPToken: testToken, BodyReadTimeout: time.Hour,
		AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), SandboxOptions: sandbox.Options{EmptyOrg: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.ServeListener(ctx, ln) }()
	addr := ln.Addr().String()
	conns := make([]net.Conn, 0, clients)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range clients {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: "+addr+"\r\nAuthorization: Bearer "+testToken+
			"\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until every request is in its body read.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		s.bodies.mu.Lock()
		n := len(s.bodies.live)
		s.bodies.mu.Unlock()
		if n == clients {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d requests reached their body read", n, clients)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeListener with %d slow clients: %v", clients, err)
		}
	case <-time.After(ShutdownTimeout + 10*time.Second):
		t.Fatal("ServeListener did not return")
	}
	for i, c := range conns {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		_, err := io.Copy(io.Discard, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("client %d: connection still open after the shutdown", i)
		}
	}
}
