package sandbox

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
)

// get sends a GET with the given key (Basic user).
func (e *env) getWithKey(key, path string) (int, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.SetBasicAuth(key, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func TestRateLimitWindowAndHeader(t *testing.T) {
	e := newEnv(t, Options{EmptyOrg: true, RateLimit: 3})
	rc := testkit.NewManualClock(t0)
	e.s.rateNow = rc.Now // the limiter's window, held still
	for i, want := range []string{
		"limit=3, remaining=2, reset=1",
		"limit=3, remaining=1, reset=1",
		"limit=3, remaining=0, reset=1",
	} {
		code, _, h := e.do("GET", "/api/v1/me/", nil)
		if code != 200 || h.Get("RateLimit") != want {
			t.Fatalf("request %d: %d RateLimit %q, want %q", i, code, h.Get("RateLimit"), want)
		}
	}
	rc.Advance(250 * time.Millisecond)
	code, m, h := e.do("GET", "/api/v1/me/", nil)
	if code != 429 || h.Get("RateLimit") != "limit=3, remaining=0, reset=1" || h.Get("Retry-After") != "1" ||
		m["error"] != "Rate limit exceeded." || m["rate_reset"] != 0.75 {
		t.Fatalf("over the limit: %d %v RateLimit %q Retry-After %q", code, m, h.Get("RateLimit"), h.Get("Retry-After"))
	}
	// The official Python client reads reset with reset=(\d+): it must
	// read the whole wait, not 0 from "0.750".
	if got := regexp.MustCompile(`reset=(\d+)`).FindStringSubmatch(h.Get("RateLimit")); got == nil || got[1] != "1" {
		t.Errorf("reset=(\\d+) reads %v from %q", got, h.Get("RateLimit"))
	}
	// Reads share a group; a search is another with its own window.
	if code, _, _ := e.do("GET", "/api/v1/lead/", nil); code != 429 {
		t.Errorf("another read: %d", code)
	}
	if code, _, h := e.do("POST", "/api/v1/data/search/", `{"query":{"type":"match_all"},"_limit":1}`); code != 200 || h.Get("RateLimit") != "limit=3, remaining=2, reset=1" {
		t.Errorf("other group: %d %q", code, h.Get("RateLimit"))
	}
	// A bad key is a 401, never a 429, and is not counted.
	if code, h := e.getWithKey("someone-else", "/api/v1/me/"); code != 401 || h.Get("RateLimit") != "" {
		t.Errorf("bad key while limited: %d %q", code, h.Get("RateLimit"))
	}
	rc.Advance(750 * time.Millisecond)
	if code, _, h = e.do("GET", "/api/v1/me/", nil); code != 200 || h.Get("RateLimit") != "limit=3, remaining=2, reset=1" {
		t.Errorf("next window: %d %q", code, h.Get("RateLimit"))
	}
	e.s.SetFaults(Faults{})
	if _, _, h = e.do("GET", "/api/v1/me/", nil); h.Get("RateLimit") != "" {
		t.Errorf("rate limit off but header %q", h.Get("RateLimit"))
	}
	if got := e.s.Requests("GET", "/me/"); got != 7 {
		t.Errorf("Requests(GET, /me/) = %d, want 7", got)
	}
}

func TestRateGroups(t *testing.T) {
	cases := []struct{ method, path, want string }{
		{"GET", "/api/v1/lead/", "read"},
		{"GET", "/api/v1/lead/lead_1/", "read"},
		{"PUT", "/api/v1/lead/lead_1/", "write lead"},
		{"POST", "/api/v1/lead/", "write lead"},
		{"DELETE", "/api/v1/lead/lead_1/", "write lead"},
		{"POST", "/api/v1/data/search/", "write data/search"},
		{"POST", "/api/v1/bulk_action/delete/", "write bulk_action/delete"},
		{"GET", "/api/v1/bulk_action/delete/bd_1/", "read"},
		{"POST", "/api/v1/export/lead/", "write export"},
		{"POST", "/api/v1/activity/call/", "write activity/call"},
		{"HEAD", "/api/v1/me/", "read"},
	}
	for _, c := range cases {
		if got := rateGroup(c.method, c.path); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.path, got, c.want)
		}
	}
}

func TestRateLimitPerOrganization(t *testing.T) {
	keys := []string{"k2", "k3", "k4"}
	e := newEnv(t, Options{EmptyOrg: true, RateLimit: 2, APIKeys: keys})
	rc := testkit.NewManualClock(t0)
	e.s.rateNow = rc.Now
	all := append([]string{DemoAPIKey}, keys...)
	// Three keys use their 2 each: 6 = 3 × 2, the organization's limit.
	for _, k := range all[:3] {
		for n := range 2 {
			if code, h := e.getWithKey(k, "/api/v1/me/"); code != 200 {
				t.Fatalf("key %s request %d: %d %q", k, n, code, h.Get("RateLimit"))
			}
		}
		if code, _ := e.getWithKey(k, "/api/v1/me/"); code != 429 {
			t.Fatalf("key %s over its own limit: %d", k, code)
		}
	}
	// The fourth key has not used any of its own, but the organization's
	// window is full.
	code, h := e.getWithKey(all[3], "/api/v1/me/")
	if code != 429 || h.Get("Retry-After") != "1" {
		t.Fatalf("fourth key with the organization's window full: %d %v", code, h)
	}
	rc.Advance(time.Second)
	if code, h := e.getWithKey(all[3], "/api/v1/me/"); code != 200 || h.Get("RateLimit") != "limit=2, remaining=1, reset=1" {
		t.Errorf("new window: %d %q", code, h.Get("RateLimit"))
	}
	// Every key of the organization authenticates; others do not.
	for _, k := range all {
		if code, _ := e.getWithKey(k, "/api/v1/user/"); code == 401 {
			t.Errorf("key %s refused", k)
		}
	}
	if code, _ := e.getWithKey("k5", "/api/v1/me/"); code != 401 {
		t.Errorf("unknown key: %d", code)
	}
}
