package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/schema"
)

// t0 is the fixed "now" of most tests.
var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// clock is an injectable sandbox clock.
type clock = testkit.ManualClock

// env is a sandbox served over real HTTP.
type env struct {
	t   *testing.T
	s   *Server
	srv *httptest.Server
	clk *clock
}

func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	e := &env{t: t, clk: testkit.NewManualClock(t0)}
	if o.Now == nil {
		o.Now = e.clk.Now
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.s = s
	e.srv = httptest.NewServer(s)
	t.Cleanup(func() {
		e.srv.Close()
		s.Close()
	})
	return e
}

func emptyEnv(t *testing.T) *env { return newEnv(t, Options{EmptyOrg: true}) }

// do sends a request with the sandbox key. body is a string (sent as is)
// or a value (marshalled). hdr are header name/value pairs.
func (e *env) do(method, path string, body any, hdr ...string) (int, map[string]any, http.Header) {
	e.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(e.s.APIKey(), "")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 && resp.Header.Get("Content-Type") == "application/json" {
		if err := json.Unmarshal(raw, &m); err != nil {
			e.t.Fatalf("%s %s: body is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, m, resp.Header
}

// search posts body to /data/search/ and wants a 200.
func (e *env) search(body string, hdr ...string) map[string]any {
	e.t.Helper()
	code, m, _ := e.do("POST", "/api/v1/data/search/", body, hdr...)
	if code != 200 {
		e.t.Fatalf("search %s: %d %v", body, code, m)
	}
	return m
}

// names runs a query and returns the display names of every match, sorted.
func (e *env) names(query string, hdr ...string) []string {
	e.t.Helper()
	ot := "lead"
	if n, _, err := schema.DecodeNode([]byte(query)); err == nil {
		if t, ok := schema.ObjectTypeOf(n); ok {
			ot = t
		}
	}
	m := e.search(fmt.Sprintf(`{"query":%s,"_limit":200,"_fields":{"%s":["display_name"]}}`, query, ot), hdr...)
	var out []string
	for _, d := range m["data"].([]any) {
		out = append(out, d.(map[string]any)["display_name"].(string))
	}
	sort.Strings(out)
	return out
}

// count runs a count-only search.
func (e *env) count(query string, hdr ...string) int {
	e.t.Helper()
	m := e.search(fmt.Sprintf(`{"query":%s,"include_counts":true,"results_limit":0}`, query), hdr...)
	return int(m["count"].(map[string]any)["total"].(float64))
}

// fieldErr expects a 400 with field-errors and returns the entry for key.
func (e *env) fieldErr(method, path string, body any, key string, hdr ...string) string {
	e.t.Helper()
	code, m, _ := e.do(method, path, body, hdr...)
	if code != 400 {
		e.t.Fatalf("%s %s %v: want 400, got %d %v", method, path, body, code, m)
	}
	if _, ok := m["errors"].([]any); !ok {
		e.t.Fatalf("400 without an errors list: %v", m)
	}
	fe, _ := m["field-errors"].(map[string]any)
	msg, ok := fe[key].(string)
	if !ok {
		e.t.Fatalf("400 without field-errors[%q]: %v", key, m)
	}
	return msg
}

// Query-building helpers, producing Close's JSON.

func and(qs ...string) string { return `{"type":"and","queries":[` + strings.Join(qs, ",") + `]}` }
func or(qs ...string) string  { return `{"type":"or","queries":[` + strings.Join(qs, ",") + `]}` }
func leads(qs ...string) string {
	return and(append([]string{`{"type":"object_type","object_type":"lead"}`}, qs...)...)
}
func contacts(qs ...string) string {
	return and(append([]string{`{"type":"object_type","object_type":"contact"}`}, qs...)...)
}
func negate(q string) string { return strings.TrimSuffix(q, "}") + `,"negate":true}` }
func fc(obj, field, cond string) string {
	return fmt.Sprintf(`{"type":"field_condition","field":{"type":"regular_field","object_type":%q,"field_name":%q},"condition":%s}`, obj, field, cond)
}
func cfc(id, cond string) string {
	return fmt.Sprintf(`{"type":"field_condition","field":{"type":"custom_field","custom_field_id":%q},"condition":%s}`, id, cond)
}
func text(mode, v string) string { return fmt.Sprintf(`{"type":"text","mode":%q,"value":%q}`, mode, v) }
func related(this, rel, q string) string {
	return fmt.Sprintf(`{"type":"has_related","this_object_type":%q,"related_object_type":%q,"related_query":%s}`, this, rel, q)
}
func jsonStr(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
