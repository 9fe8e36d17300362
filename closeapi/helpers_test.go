package closeapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

// testKey is recognisable so the leak test can search for it.
const testKey = "api_TESTKEY0123456789abcdef"

func basicFor(key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(key+":"))
}

// seen is one request as the fake Close server received it.
type seen struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   []byte
}

// fakeClose is an httptest server that records every request and answers through handle,
// which gets the 1-based number of the request.
type fakeClose struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []seen
	handle func(w http.ResponseWriter, r *http.Request, n int, body []byte)
}

func newFake(t *testing.T, handle func(w http.ResponseWriter, r *http.Request, n int, body []byte)) *fakeClose {
	t.Helper()
	f := &fakeClose{handle: handle}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: body})
		n := len(f.reqs)
		f.mu.Unlock()
		f.handle(w, r, n, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeClose) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.reqs...)
}

func (f *fakeClose) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeClose) base() string { return f.srv.URL + "/api/v1" }

// jsonReply answers with a status and a JSON (or any) body.
func jsonReply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// hangUp closes the connection without an answer.
func hangUp(t *testing.T, w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Error("response writer cannot hijack")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// waitRecorder replaces the client's sleep and backoff: waits are recorded, not slept, and
// backoff is deterministic (100ms × retry number).
type waitRecorder struct{ waits []time.Duration }

func testClient(t *testing.T, base string, mod func(*Options)) (*Client, *waitRecorder) {
	t.Helper()
	o := Options{BaseURL: base, APIKey: testKey, Version: "test", TZOffset: "-4"}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	wr := &waitRecorder{}
	c.sleep = func(ctx context.Context, d time.Duration) error {
		wr.waits = append(wr.waits, d)
		return ctx.Err()
	}
	c.backoff = func(retry int) time.Duration { return time.Duration(retry) * 100 * time.Millisecond }
	return c, wr
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jsonEqual compares two JSON texts by value.
func jsonEqual(t *testing.T, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Errorf("got is not JSON: %v: %s", err, got)
		return false
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v: %s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

func asAPIError(err error, target **APIError) bool { return errors.As(err, target) }

func ptr[T any](v T) *T { return &v }
