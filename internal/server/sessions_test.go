package server

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"
)

// mcpPost sends one JSON-RPC message to /mcp in session sid ("" for none)
// and returns the status and the session id the answer carries.
func mcpPost(t *testing.T, base, sid, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+pathMCP, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id")
}

const pingBody = `{"jsonrpc":"2.0","id":2,"method":"ping"}`

// TestSessionCap: initializations past MaxHTTPSessions push the least
// recently used sessions out (404 on their next request, so the client
// initializes again); the others keep working.
func TestSessionCap(t *testing.T) {
	s, ts := newTestServer(t, Config{Transport: TransportHTTP, HTTPToken: testToken, MaxHTTPSessions: 3})
	var ids []string
	for i := range 5 {
		st, sid := mcpPost(t, ts.URL, "", initBody)
		if st != http.StatusOK || sid == "" {
			t.Fatalf("initialize %d: status %d, session %q", i, st, sid)
		}
		ids = append(ids, sid)
		if i == 1 {
			// The first session is used again, so the second is now the
			// least recently used.
			if st, _ := mcpPost(t, ts.URL, ids[0], pingBody); st != http.StatusOK {
				t.Fatalf("ping of a live session: %d", st)
			}
		}
	}
	if n := s.sessions.Len(); n != 3 {
		t.Errorf("%d live sessions, want the cap of 3", n)
	}
	// Pushed out in order of last use: 1 (used least recently), then 0.
	want := map[int]int{0: 404, 1: 404, 2: 200, 3: 200, 4: 200}
	for i, sid := range ids {
		if st, _ := mcpPost(t, ts.URL, sid, pingBody); st != want[i] {
			t.Errorf("session %d: status %d, want %d", i, st, want[i])
		}
	}
	// mcp-go's own state of a pushed-out session is freed too (the in-process
	// DELETE runs on its own goroutine); the live ones are still registered.
	registered := func(sid string) bool {
		return !errors.Is(s.mcp.SendNotificationToSpecificClient(sid, "notifications/message", nil), mcpserver.ErrSessionNotFound)
	}
	for deadline := time.Now().Add(10 * time.Second); registered(ids[0]) || registered(ids[1]); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("mcp-go still holds the pushed-out sessions")
		}
	}
	for _, sid := range ids[2:] {
		if !registered(sid) {
			t.Errorf("live session %s is not registered with mcp-go", sid)
		}
	}
}

// TestSessionIdleTTL: a session idle past HTTPSessionIdleTTL is gone.
func TestSessionIdleTTL(t *testing.T) {
	s, ts := newTestServer(t, Config{Transport: TransportHTTP, HTTPToken: testToken, HTTPSessionIdleTTL: time.Second})
	st, sid := mcpPost(t, ts.URL, "", initBody)
	if st != http.StatusOK || sid == "" {
		t.Fatalf("initialize: status %d, session %q", st, sid)
	}
	// mcp-go sweeps every max(TTL/2, 1s); a safety net well above that.
	for deadline := time.Now().Add(15 * time.Second); s.sessions.Len() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the idle session was never swept")
		}
	}
	if st, _ := mcpPost(t, ts.URL, sid, pingBody); st != http.StatusNotFound {
		t.Errorf("idle session: status %d, want 404", st)
	}
}

// TestOutOfRangeArgumentHTTP: results_limit 1e309 over streamable HTTP.
func TestOutOfRangeArgumentHTTP(t *testing.T) {
	_, ts := newTestServer(t, Config{Transport: TransportHTTP, HTTPToken: testToken})
	_, sid := mcpPost(t, ts.URL, "", initBody)
	req, err := http.NewRequest(http.MethodPost, ts.URL+pathMCP, strings.NewReader(outOfRangeCall))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	// The answer is plain JSON or one SSE event carrying it.
	if i := strings.Index(string(body), "data: "); i >= 0 {
		body = []byte(strings.TrimSpace(strings.SplitN(string(body[i+len("data: "):]), "\n", 2)[0]))
	}
	wantOutOfRangeResult(t, body)
}

// TestSessionLimiterAdopt: replicas sharing a store take in a well-formed
// session id another replica made (counted against the cap); alone, a
// server refuses an id it does not know, so the client initializes again.
func TestSessionLimiterAdopt(t *testing.T) {
	ended := make(chan string, 4)
	const other = "mcp-session-0123abcd-4567-4abc-8def-0123456789ab"
	for _, adopt := range []bool{false, true} {
		l := newSessionLimiter(1, adopt, func(id string) { ended <- id })
		own := l.Generate()
		_, err := l.Validate(other)
		if (err == nil) != adopt {
			t.Errorf("adopt %v: Validate of another replica's id: %v", adopt, err)
		}
		if _, err := l.Validate("mcp-session-not-a-uuid"); err == nil {
			t.Errorf("adopt %v: a malformed id was accepted", adopt)
		}
		if adopt {
			if got := <-ended; got != own || l.Len() != 1 {
				t.Errorf("adopting past the cap of 1 ended %q (want %q), %d live", got, own, l.Len())
			}
		}
	}
}
