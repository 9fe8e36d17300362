package sandbox

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// orgRateFactor is how much higher the organization-wide limit is than one
// API key's: "currently 3 times higher" (docs/close-api.md §4.4 [DOC]).
const orgRateFactor = 3

// bucket is one one-second rate-limit window.
type bucket struct {
	start time.Time
	used  int
}

// rateGroup is the endpoint group a request is counted in. Close limits
// per endpoint group, grouping paths and methods so that lightweight
// requests can have a higher limit than resource-intensive ones (its
// example: GETs of /lead/ and writes of /activity/ may be two groups), but
// does not publish the groups (docs/close-api.md §4.4 [DOC]). The sandbox
// groups by cost [INF]: every read (GET, HEAD) is one group; the
// query-evaluating endpoints (data/search, each bulk action kind, exports)
// are each their own; the other writes are grouped by resource.
func rateGroup(method, path string) string {
	if method == http.MethodGet || method == http.MethodHead {
		return "read"
	}
	seg := strings.Split(strings.Trim(strings.TrimPrefix(path, apiBase), "/"), "/")
	res := seg[0]
	switch {
	case res == "data" || res == "bulk_action":
		if len(seg) > 1 {
			res += "/" + seg[1]
		}
	case res == "activity" && len(seg) > 1:
		// /activity/call/ and /activity/note/ are separate resources.
		res += "/" + seg[1]
	}
	return "write " + res
}

// window returns name's current window (a new one once a second has passed
// since it opened) and the seconds until it resets.
func (s *Server) window(name string, now time.Time) (*bucket, float64) {
	b := s.buckets[name]
	if b == nil || now.Sub(b.start) >= time.Second || now.Before(b.start) {
		b = &bucket{start: now}
		s.buckets[name] = b
	}
	return b, (time.Second - now.Sub(b.start)).Seconds()
}

// rate takes one request of group for key: from the key's window (limit)
// and from the organization's (orgRateFactor × limit, shared by every
// key). A request refused by either is counted by neither. The caller
// holds fmu.
func (s *Server) rate(key, group string, limit int) (remaining int, reset float64, ok bool) {
	now := s.rateNow()
	kb, kReset := s.window("key "+key+" "+group, now)
	ob, oReset := s.window("org "+group, now)
	olimit := orgRateFactor * limit
	switch {
	case kb.used >= limit && ob.used >= olimit:
		return 0, max(kReset, oReset), false
	case kb.used >= limit:
		return 0, kReset, false
	case ob.used >= olimit:
		return 0, oReset, false
	}
	kb.used++
	ob.used++
	if limit-kb.used <= olimit-ob.used {
		return limit - kb.used, kReset, true
	}
	return olimit - ob.used, oReset, true
}

// limitRate applies the rate limit to an authenticated request. It sets the
// RateLimit header on every response while a limit is on and answers 429
// when the request does not fit; ok is false then.
//
// The header's reset is whole seconds, rounded up: Close's documented
// example and the one live observation both show an integer (`reset=5`),
// and the official Python client reads it with `reset=(\d+)`, so a decimal
// would be read as its integer part and make that client retry at once
// (docs/close-api.md §4.4 and §9). Retry-After is the same value; the
// 429 body keeps the precise rate_reset of Close's older 429s [INF].
func (s *Server) limitRate(w http.ResponseWriter, key, method, path string, limit int) bool {
	s.fmu.Lock()
	remaining, reset, ok := s.rate(key, rateGroup(method, path), limit)
	s.fmu.Unlock()
	whole := int(math.Ceil(reset - 1e-9))
	w.Header().Set("RateLimit", fmt.Sprintf("limit=%d, remaining=%d, reset=%d", limit, remaining, whole))
	if ok {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(whole))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": "Rate limit exceeded.", "rate_reset": math.Round(reset*1000) / 1000})
	return false
}
