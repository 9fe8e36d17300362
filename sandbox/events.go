package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The event log (GET /event/, docs/close-sandbox-api.md §3): every create,
// update and delete made through the API, and every object a bulk delete
// removes, newest first, kept 30 days.

const (
	// eventRetention: Close keeps events 30 days [DOC].
	eventRetention = 30 * 24 * time.Hour
	// eventPage is both the default and the largest _limit of /event/
	// (docs/close-api.md §4.5 [OBS]).
	eventPage = 50
)

// apiState is what the API surface adds to a Server: the event log, the
// exports and the API keys. The Server's mu guards it.
type apiState struct {
	events  []*event
	eventBy map[string]*event
	evRand  *rand.Rand

	exports  []*export
	exportBy map[string]*export
	expRand  *rand.Rand
	urlTTL   time.Duration
	expFault ExportFaults
	secret   [32]byte // signs download links

	keys map[string]string // API key → its id (api_…)
	// cur is the origin of the deletes being made (deleting).
	cur *origin
	// userHook is the delete hook installed with SetDeleteHook.
	userHook DeleteHook
	// colors of the lead statuses that have one, by status id.
	colors map[string]string
}

func newAPIState(o Options) *apiState {
	a := &apiState{
		eventBy:  map[string]*event{},
		evRand:   rand.New(rand.NewPCG(uint64(o.Seed), 0xe7e17)),
		exportBy: map[string]*export{},
		expRand:  rand.New(rand.NewPCG(uint64(o.Seed), 0xe4907)),
		urlTTL:   o.ExportURLTTL,
		expFault: o.ExportFaults,
		keys:     map[string]string{},
		colors:   map[string]string{},
	}
	if a.urlTTL <= 0 {
		a.urlTTL = 60 * time.Second
	}
	key := o.APIKey
	if key == "" {
		key = DemoAPIKey
	}
	for _, k := range append([]string{key}, o.APIKeys...) {
		if k != "" {
			a.keys[k] = keyID(k)
		}
	}
	a.secret = sha256.Sum256([]byte("bulkguard sandbox download links " + strconv.FormatInt(o.Seed, 10) + key))
	return a
}

// keyID is the id Close would show for an API key (api_…): derived from
// the key, so it names the key in events without revealing it.
func keyID(k string) string {
	h := sha256.Sum256([]byte("bulkguard sandbox api key " + k))
	return "api_" + hex.EncodeToString(h[:12])
}

func (s *Server) validKey(k string) bool {
	_, ok := s.api.keys[k]
	return ok
}

// event is one entry of the event log.
type event struct {
	seq                          int
	id                           string
	at                           time.Time
	userID, requestID, apiKeyID  string // "" = null
	objectType, objectID, leadID string
	action                       string
	changed                      []string
	meta                         map[string]any
	data, prev                   map[string]any
	// prevJSON is a deleted object's previous_data, kept as JSON: a bulk
	// delete of many leads keeps one compact copy of each.
	prevJSON json.RawMessage
}

// origin is who and what caused an event: a request (user, key, request
// id, method and path) or a bulk action.
type origin struct {
	userID, requestID, apiKeyID string
	meta                        map[string]any
}

// origin of the events this call emits; one request id per call.
func (c *call) origin() origin {
	if c.reqID == "" {
		c.reqID = "req_" + randID(c.s.api.evRand, "")[:22]
	}
	return origin{userID: c.user.ID, requestID: c.reqID, apiKeyID: c.s.api.keys[c.key],
		meta: map[string]any{"request_method": c.r.Method, "request_path": c.r.URL.Path}}
}

// logEvent appends an event. The caller holds mu for writing.
func (s *Server) logEvent(o origin, objectType, objectID, leadID, action string, data, prev map[string]any, changed []string) *event {
	a := s.api
	e := &event{seq: len(a.events), id: randID(a.evRand, "ev_"), at: s.now(), userID: o.userID, requestID: o.requestID,
		apiKeyID: o.apiKeyID, objectType: objectType, objectID: objectID, leadID: leadID, action: action,
		changed: changed, meta: o.meta, data: data, prev: prev}
	a.events = append(a.events, e)
	a.eventBy[e.id] = e
	return e
}

// deleting runs del (which deletes through store.deleteObject) with o as
// the origin of the deleted events the delete hook records. The caller
// holds mu for writing.
func (s *Server) deleting(o origin, del func()) {
	s.api.cur = &o
	defer func() { s.api.cur = nil }()
	del()
}

// onDelete is the store's delete hook: every object a delete removes gets
// a deleted event with its previous data, and a bulk delete's id in meta
// (docs/close-api.md §1.5). Parts without ids of their own (emails,
// phones, addresses, urls) are part of their owner's previous_data.
func (s *Server) onDelete(kind, id, leadID string, previous map[string]any, bulkActionID string) {
	if h := s.api.userHook; h != nil {
		defer h(kind, id, leadID, previous, bulkActionID)
	}
	if id == "" {
		return
	}
	o := origin{}
	if s.api.cur != nil {
		o = *s.api.cur
	}
	if bulkActionID != "" {
		o.meta = map[string]any{"bulk_action_id": bulkActionID}
	}
	e := s.logEvent(o, eventType(kind), id, leadID, "deleted", nil, nil, nil)
	if b, err := json.Marshal(previous); err == nil {
		e.prevJSON = b
	}
}

// eventType is the object_type of events about objects of a kind: Close
// names task events task.lead [DOC list of events; the others are the
// kind's own name].
func eventType(kind string) string {
	if kind == "task" {
		return "task.lead"
	}
	return kind
}

// leadOf is the id of the lead object i of kind u belongs to (itself for
// a lead).
func (st *store) leadOf(u uni, i int) string {
	return st.t[uLead].ids[st.ancestor(u, i, uLead)]
}

func (st *store) eventJSON(e *event, orgID string) map[string]any {
	var data, prev any = e.data, e.prev
	switch {
	case e.prevJSON != nil:
		prev = e.prevJSON
	case e.prev == nil:
		prev = map[string]any{}
	}
	if e.data == nil {
		data = map[string]any{}
	}
	changed := e.changed
	if changed == nil {
		changed = []string{}
	}
	meta := e.meta
	if meta == nil {
		meta = map[string]any{}
	}
	return map[string]any{
		"id": e.id, "date_created": fmtTime(e.at), "date_updated": fmtTime(e.at), "organization_id": orgID,
		"user_id": nullStr(e.userID), "request_id": nullStr(e.requestID), "api_key_id": nullStr(e.apiKeyID),
		"oauth_client_id": nil, "oauth_scope": nil,
		"object_type": e.objectType, "object_id": e.objectID, "lead_id": nullStr(e.leadID), "action": e.action,
		"changed_fields": changed, "meta": meta, "data": data, "previous_data": prev,
	}
}

// eventFilterSets are the filter combinations Close supports (besides
// date_updated, allowed with any of them): docs/close-api.md §9 and
// docs/close-sandbox-api.md §3 [DOC; the docs' list was read up to its
// seventh entry, so a longer official list may accept more].
var eventFilterSets = []string{
	"",
	"object_type", "object_id", "action", "lead_id", "user_id", "request_id",
	"object_id,object_type",
	"action,object_type",
	"action,object_id",
	"lead_id,object_type",
	"action,lead_id,object_type",
	"lead_id,object_type,user_id",
	"action,lead_id,object_type,user_id",
}

var eventFilterNames = []string{"action", "lead_id", "object_id", "object_type", "request_id", "user_id"}

// listEvents is GET /event/: newest first, _limit at most 50, _cursor from
// the previous page's cursor_next (null on the last page).
func (c *call) listEvents(string) {
	q := c.r.URL.Query()
	limit, ok := c.queryInt("_limit", eventPage, 1, eventPage)
	if !ok {
		return
	}
	var used []string
	want := map[string]string{}
	for _, f := range eventFilterNames {
		if v := q.Get(f); v != "" {
			used = append(used, f)
			want[f] = v
		}
	}
	combo := strings.Join(used, ",")
	supported := false
	for _, s := range eventFilterSets {
		supported = supported || s == combo
	}
	if !supported {
		errorJSON(c.w, http.StatusBadRequest, "Unsupported combination of filters: "+combo+". Supported: object_type with object_id or action; object_id with action; lead_id with object_type (and action, user_id).")
		return
	}
	var bounds [4]time.Time // gte, gt, lte, lt
	for k, name := range []string{"date_updated__gte", "date_updated__gt", "date_updated__lte", "date_updated__lt"} {
		if v := q.Get(name); v != "" {
			t, err := parseCloseTime(v)
			if err != nil {
				fieldError(c.w, name, "Enter a valid date/time.")
				return
			}
			bounds[k] = t
		}
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	a := c.s.api
	start := len(a.events) - 1
	if cur := q.Get("_cursor"); cur != "" {
		n, ok := decodeEventCursor(cur)
		if !ok || n > len(a.events) {
			fieldError(c.w, "_cursor", "Invalid cursor")
			return
		}
		start = n - 1
	}
	oldest := c.s.now().Add(-eventRetention)
	data := []any{}
	next := any(nil)
	for k := start; k >= 0; k-- {
		e := a.events[k]
		if e.at.Before(oldest) {
			break
		}
		if !e.matches(want, bounds) {
			continue
		}
		if len(data) == limit {
			next = encodeEventCursor(k + 1)
			break
		}
		data = append(data, c.selectFields(c.s.st.eventJSON(e, c.s.st.orgID)))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "cursor_next": next})
}

func (e *event) matches(want map[string]string, b [4]time.Time) bool {
	for f, v := range want {
		var got string
		switch f {
		case "action":
			got = e.action
		case "lead_id":
			got = e.leadID
		case "object_id":
			got = e.objectID
		case "object_type":
			got = e.objectType
		case "request_id":
			got = e.requestID
		case "user_id":
			got = e.userID
		}
		if got != v {
			return false
		}
	}
	switch {
	case !b[0].IsZero() && e.at.Before(b[0]),
		!b[1].IsZero() && !e.at.After(b[1]),
		!b[2].IsZero() && e.at.After(b[2]),
		!b[3].IsZero() && !e.at.Before(b[3]):
		return false
	}
	return true
}

// A cursor names the position below which the next page starts; events
// only ever get appended, so it stays valid while new ones arrive.
func encodeEventCursor(n int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	return base64.RawURLEncoding.EncodeToString(append([]byte("ev1"), b[:]...))
}

func decodeEventCursor(s string) (int, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 11 || string(b[:3]) != "ev1" {
		return 0, false
	}
	n := binary.BigEndian.Uint64(b[3:])
	if n > 1<<40 {
		return 0, false
	}
	return int(n), true
}

// getEvent is GET /event/{id}/.
func (c *call) getEvent(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	e := c.s.api.eventBy[id]
	if e == nil || e.at.Before(c.s.now().Add(-eventRetention)) {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.st.eventJSON(e, c.s.st.orgID)))
}
