package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/schema"
)

const apiBase = "/api/v1"

// maxBody bounds request bodies; a query is at most 256 KiB (schema) and a
// body carries one query plus a few keys.
const maxBody = 1 << 20

// call is one authenticated request being answered.
type call struct {
	w    http.ResponseWriter
	r    *http.Request
	s    *Server
	user *user
	key  string // the API key the request presented
	// org is the origin of the events this call emits (events.go).
	org *origin
	// drop is set by a handler that wants the connection closed after it
	// has done its work (DropAfterCreate).
	drop bool
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value written here is built from plain maps and structs;
		// a failure is a bug, answered as Close answers errors.
		status = http.StatusInternalServerError
		b = []byte(`{"error": "Internal server error."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// errorJSON writes Close's plain error shape {"error": "…"} (docs/close-api.md
// §4.3 [OFF-CODE][OBS]; the messages other than "Unauthorized" and the
// invalid-JSON one are [INF]).
func errorJSON(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": msg})
}

// fieldErrors writes Close's validation shape (docs/close-api.md §4.3
// [OFF-CODE][OBS]); messages mimic the observed pydantic-style ones
// ("Input should be less than or equal to 200").
func fieldErrors(w http.ResponseWriter, fe map[string]any) {
	writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []any{}, "field-errors": fe})
}

func fieldError(w http.ResponseWriter, field, msg string) {
	fieldErrors(w, map[string]any{field: msg})
}

// credential is the API key a request presents: the Basic user, or a
// Bearer token. ok is false when the header is missing or malformed.
func credential(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	scheme, rest, _ := strings.Cut(h, " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", false
		}
		u, _, _ := strings.Cut(string(raw), ":")
		return u, u != ""
	case "bearer":
		return rest, rest != ""
	}
	return "", false
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 or a wrapped writer: aborting the handler resets the stream.
	panic(http.ErrAbortHandler)
}

// ServeHTTP answers everything under /api/v1/. In order: the request is
// counted; latency; a dropped connection; an injected failure;
// authentication; the method override; the rate limit; then the endpoint.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer says it is the sandbox's, so a bulkguard pointed at it
	// through --close-url labels its results "sandbox", not "close".
	w.Header().Set(IdentityHeader, "1")
	s.countRequest(r.Method, r.URL.Path)
	s.fmu.Lock()
	f := s.faults
	dropNow := f.DropRate > 0 && s.dice.Float64() < f.DropRate
	failNow := f.FailureRate > 0 && s.dice.Float64() < f.FailureRate
	s.fmu.Unlock()

	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if dropNow {
		s.log.Debug("sandbox: dropping connection", "method", r.Method, "path", r.URL.Path)
		drop(w)
		return
	}
	if failNow {
		errorJSON(w, f.FailureStatus, http.StatusText(f.FailureStatus))
		return
	}
	if strings.HasPrefix(r.URL.Path, downloadBase) {
		// A presigned download link carries its own authorisation.
		s.download(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, apiBase+"/") {
		errorJSON(w, http.StatusNotFound, "Not found.")
		return
	}
	key, hasKey := credential(r)
	if !hasKey || !s.validKey(key) {
		errorJSON(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	if !s.methodOverride(w, r) {
		return
	}
	// After authentication, as Close does: a bad key is a 401, never a 429
	// (docs/close-api.md §4.4).
	if f.RateLimit > 0 && !s.limitRate(w, key, r.Method, r.URL.Path, f.RateLimit) {
		return
	}
	path := strings.TrimPrefix(r.URL.Path, apiBase)
	if !strings.HasSuffix(path, "/") {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			// Same origin, own path plus the slash: r.URL.Path starts with
			// apiBase (checked above), so the target cannot name another host.
			u := url.URL{Path: r.URL.Path + "/", RawQuery: r.URL.RawQuery}
			http.Redirect(w, r, u.String(), http.StatusPermanentRedirect) //nolint:gosec // G710: see above
			return
		}
		errorJSON(w, http.StatusNotFound, "Not found. Close paths end with a slash: "+r.URL.Path+"/")
		return
	}
	s.mu.RLock()
	me := s.st.users[0]
	s.mu.RUnlock()
	c := &call{w: w, r: r, s: s, user: me, key: key}
	s.route(c, strings.Split(strings.Trim(path, "/"), "/"))
}

type handler func(c *call, arg string)

// route dispatches on the path segments. A known path with the wrong
// method is a 405, an unknown one a 404, both in Close's {"error"} shape.
func (s *Server) route(c *call, seg []string) {
	var m map[string]handler
	var arg string
	is := func(p ...string) bool {
		if len(p) != len(seg) {
			return false
		}
		for i := range p {
			if p[i] != "*" && p[i] != seg[i] {
				return false
			}
		}
		return true
	}
	switch {
	case s.apiRoutes(seg, &m, &arg):
	case is("me"):
		m = map[string]handler{"GET": (*call).me}
	case is("user"):
		m = map[string]handler{"GET": (*call).users}
	case is("user", "*"):
		m, arg = map[string]handler{"GET": (*call).userByID}, seg[1]
	case is("status", "lead"):
		m = map[string]handler{"GET": (*call).statuses}
	case is("custom_field", "lead"):
		m = map[string]handler{"GET": (*call).customFields}
	case is("saved_search"):
		m = map[string]handler{"GET": (*call).savedSearches}
	case is("saved_search", "*"):
		m, arg = map[string]handler{"GET": (*call).savedSearch}, seg[1]
	case is("lead"):
		m = map[string]handler{"GET": (*call).leads}
	case is("lead", "*"):
		m, arg = map[string]handler{"GET": (*call).lead, "DELETE": (*call).deleteLead}, seg[1]
	case is("contact", "*"):
		m, arg = map[string]handler{"GET": (*call).contact}, seg[1]
	case is("data", "search"):
		m = map[string]handler{"POST": (*call).search}
	case is("bulk_action", "delete"):
		m = map[string]handler{"GET": (*call).listJobs, "POST": (*call).createJob}
	case is("bulk_action", "delete", "*"):
		m, arg = map[string]handler{"GET": (*call).getJob, "PUT": (*call).updateJob}, seg[2]
	default:
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	h, ok := m[c.r.Method]
	if !ok {
		allow := sortedKeys(m)
		c.w.Header().Set("Allow", strings.Join(allow, ", "))
		errorJSON(c.w, http.StatusMethodNotAllowed, "Method not allowed.")
		return
	}
	h(c, arg)
	if c.drop {
		drop(c.w)
	}
}

// body reads a JSON object body. On failure it has answered and returns
// nil: invalid JSON → 400 {"error": "The request contains invalid JSON."}.
func (c *call) body() map[string]json.RawMessage {
	b, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
	if err != nil {
		errorJSON(c.w, http.StatusBadRequest, "The request body could not be read.")
		return nil
	}
	if len(b) > maxBody {
		errorJSON(c.w, http.StatusRequestEntityTooLarge, "The request body is too large.")
		return nil
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		errorJSON(c.w, http.StatusBadRequest, "The request contains invalid JSON.")
		return nil
	}
	return m
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// optInt reads an optional non-negative integer body field. ok is false
// when it has answered 400.
func (c *call) optInt(body map[string]json.RawMessage, key string) (v *int, ok bool) {
	raw, present := body[key]
	if !present || isNull(raw) {
		return nil, true
	}
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&n); err != nil {
		fieldError(c.w, key, "Input should be a valid integer")
		return nil, false
	}
	i, err := strconv.Atoi(n.String())
	if err != nil {
		fieldError(c.w, key, "Input should be a valid integer")
		return nil, false
	}
	if i < 0 {
		fieldError(c.w, key, "Input should be greater than or equal to 0")
		return nil, false
	}
	return &i, true
}

// queryInt reads an integer query parameter within [lo, hi].
func (c *call) queryInt(name string, def, lo, hi int) (int, bool) {
	s := c.r.URL.Query().Get(name)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		fieldError(c.w, name, "Input should be a valid integer")
		return 0, false
	}
	if n < lo {
		fieldError(c.w, name, fmt.Sprintf("Input should be greater than or equal to %d", lo))
		return 0, false
	}
	if hi > 0 && n > hi {
		fieldError(c.w, name, fmt.Sprintf("Input should be less than or equal to %d", hi))
		return 0, false
	}
	return n, true
}

// queryRequest reads the JSON body of a request that carries a query
// (search, bulk delete) and the x-tz-offset header its moments are read in.
// A bad request has been answered when ok is false.
func (c *call) queryRequest() (body map[string]json.RawMessage, loc *time.Location, ok bool) {
	if body = c.body(); body == nil {
		return nil, nil, false
	}
	loc, err := parseTZOffset(c.r.Header.Get("x-tz-offset"))
	if err != nil {
		fieldError(c.w, "x-tz-offset", err.Error())
		return nil, nil, false
	}
	return body, loc, true
}

// selection is what a search or bulk-delete body selects: the query, its
// results_limit and its sort.
type selection struct {
	raw          json.RawMessage // the query as sent
	node         schema.Node
	resultsLimit *int
	sorts        []schema.Sort
	sortRaw      json.RawMessage // the sort as sent, compacted; [] when there is none
}

// readQuery reads the required query under key (a JSON object when object
// is set, as Close insists for a bulk delete), results_limit and sort from
// body. A bad field has been answered when ok is false.
func (c *call) readQuery(body map[string]json.RawMessage, key string, object bool) (q selection, ok bool) {
	raw, ok := body[key]
	if !ok || isNull(raw) {
		fieldError(c.w, key, "This field is required.")
		return q, false
	}
	if t := bytes.TrimSpace(raw); object && (len(t) == 0 || t[0] != '{') {
		fieldError(c.w, key, "Input should be a valid dictionary")
		return q, false
	}
	node, _, err := schema.DecodeNode(raw)
	if err != nil {
		fieldError(c.w, key, err.Error())
		return q, false
	}
	q.raw, q.node = raw, node
	if q.resultsLimit, ok = c.optInt(body, "results_limit"); !ok {
		return q, false
	}
	q.sortRaw = json.RawMessage("[]")
	if raw, ok := body["sort"]; ok && !isNull(raw) {
		if q.sorts, err = schema.DecodeSort(raw); err != nil {
			fieldError(c.w, "sort", err.Error())
			return q, false
		}
		q.sortRaw = compact(raw)
	}
	return q, true
}

// page reads the REST paging parameters: _limit (default 100, at least
// limitMin, at most limitMax when that is above 0) and _skip (default 0, at
// most skipMax when that is above 0). A bad value has been answered when ok
// is false.
func (c *call) page(limitMin, limitMax, skipMax int) (limit, skip int, ok bool) {
	if limit, ok = c.queryInt("_limit", 100, limitMin, limitMax); !ok {
		return 0, 0, false
	}
	if skip, ok = c.queryInt("_skip", 0, 0, skipMax); !ok {
		return 0, 0, false
	}
	return limit, skip, true
}

// selectFields applies the REST `_fields=a,b` parameter to an object.
func (c *call) selectFields(obj map[string]any) map[string]any {
	f := c.r.URL.Query().Get("_fields")
	if f == "" {
		return obj
	}
	out := map[string]any{}
	for _, k := range strings.Split(f, ",") {
		k = strings.TrimSpace(k)
		if v, ok := obj[k]; ok {
			out[k] = v
		}
	}
	return out
}
