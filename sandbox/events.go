package sandbox

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
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
	events eventLog
	evRand *rand.Rand
	// evSalt makes event ids look like Close's (ev_ + 43 characters)
	// while their tail is the event's position, so an id is looked up
	// without an index.
	evSalt string

	exports  []*export
	exportBy map[string]*export
	expRand  *rand.Rand
	urlTTL   time.Duration
	expFault ExportFaults
	secret   [32]byte // signs download links

	keys map[string]string // API key → its id (api_…)
	// cur is the origin of the deletes being made (deleting).
	cur *origin
	// lastDelete is the instant of the latest delete operation.
	lastDelete int64
	// colors of the lead statuses that have one, by status id.
	colors map[string]string
}

func newAPIState(o Options) *apiState {
	a := &apiState{
		evRand:   rand.New(rand.NewPCG(uint64(o.Seed), 0xe7e17)),
		exportBy: map[string]*export{},
		expRand:  rand.New(rand.NewPCG(uint64(o.Seed), 0xe4907)),
		urlTTL:   o.ExportURLTTL,
		expFault: o.ExportFaults,
		keys:     map[string]string{},
		colors:   map[string]string{},
	}
	a.evSalt = randID(a.evRand, "")[:31]
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

// event is one entry of the event log, kept small: a bulk delete adds one
// per object it removes. A deleted object's event names its row (ref), from
// which its type, id, lead and previous_data are read when the event is;
// other events carry a body.
type event struct {
	at   int64   // unix nanoseconds
	org  *origin // shared by the events of one request or batch
	body *eventBody
	ref  objRef
}

type eventBody struct {
	objectType, objectID, leadID, action string
	changed                              []string
	data, prev                           map[string]any
}

// origin is who and what caused events: a request (user, key, request id,
// method and path) or a bulk action (its creator and id).
type origin struct {
	userID, requestID, apiKeyID string
	meta                        map[string]any
	bulkID                      string
}

// origin of the events this call emits; one per call.
func (c *call) origin() *origin {
	if c.org == nil {
		c.org = &origin{userID: c.user.ID, requestID: "req_" + randID(c.s.api.evRand, "")[:22], apiKeyID: c.s.api.keys[c.key],
			meta: map[string]any{"request_method": c.r.Method, "request_path": c.r.URL.Path}}
	}
	return c.org
}

// logEvent appends an event. The caller holds mu for writing.
func (s *Server) logEvent(o *origin, objectType, objectID, leadID, action string, data, prev map[string]any, changed []string) {
	s.api.events.add(event{at: s.now().UnixNano(), org: o, body: &eventBody{objectType: objectType, objectID: objectID,
		leadID: leadID, action: action, changed: changed, data: data, prev: prev}})
}

// fields are an event's object type, object id, lead id and action.
func (st *store) eventFields(e *event) (objectType, objectID, leadID, action string) {
	if b := e.body; b != nil {
		return b.objectType, b.objectID, b.leadID, b.action
	}
	u, i := e.ref.u, int(e.ref.i)
	return eventType(uniName[u]), st.t[u].ids[i], st.leadOf(u, i), "deleted"
}

// eventID is the id of the n-th event: the salt, then n in 12 base62
// digits.
func (a *apiState) eventID(n int) string {
	b := []byte("ev_" + a.evSalt + "000000000000")
	for k := len(b) - 1; n > 0; k-- {
		b[k] = idAlphabet[n%62]
		n /= 62
	}
	return string(b)
}

// eventByID finds an event (and its position) by its id.
func (a *apiState) eventByID(id string) (*event, int) {
	p := "ev_" + a.evSalt
	if len(id) != len(p)+12 || !strings.HasPrefix(id, p) {
		return nil, 0
	}
	n := 0
	for _, c := range id[len(p):] {
		d := strings.IndexRune(idAlphabet, c)
		if d < 0 {
			return nil, 0
		}
		n = n*62 + d
		if n > a.events.n {
			return nil, 0
		}
	}
	if n >= a.events.n {
		return nil, 0
	}
	return a.events.at(n), n
}

// deleting runs del (which deletes through store.deleteObject at the
// instant it is given) with o as the origin of the deleted events the row
// hook records. The caller holds mu for writing.
func (s *Server) deleting(o *origin, del func(at int64)) {
	s.api.cur = o
	defer func() { s.api.cur = nil }()
	del(s.deleteAt())
}

// deleteAt is the deletion instant of a new delete operation: now, and
// after every earlier one, so that the objects one operation deletes
// together share an instant no other operation's do (renderDeleted puts
// back together what was deleted together, even under a frozen clock).
func (s *Server) deleteAt() int64 {
	at := max(s.now().UnixNano(), s.api.lastDelete+1)
	s.api.lastDelete = at
	return at
}

// onDeleteRow is the store's row hook: every object a delete removes gets
// a deleted event whose previous_data is the object as it was, rendered
// from its (unchanged) row when the event is read, and a bulk delete's id
// in meta (docs/close-api.md §1.5). Parts without ids of their own
// (emails, phones, addresses, urls) are part of their owner's
// previous_data. It runs under the write lock.
func (s *Server) onDeleteRow(u uni, i int, bulkActionID string) {
	t := s.st.t[u]
	if t.ids[i] == "" {
		return
	}
	o := s.api.cur
	if o == nil || o.bulkID != bulkActionID {
		// a delete made neither through deleting nor by a job: there is
		// no request to name.
		o = &origin{bulkID: bulkActionID}
	}
	s.api.events.add(event{at: s.now().UnixNano(), org: o, ref: objRef{u: u, i: int32(i)}})
}

// eventLog stores events by value in fixed-size chunks: a bulk delete adds
// one per object, and neither a pointer per event nor a slice that is
// copied as it grows should make the collector's work grow with it.
type eventLog struct {
	chunks [][]event
	n      int
}

const eventChunk = 4096

func (l *eventLog) add(e event) {
	if l.n%eventChunk == 0 {
		l.chunks = append(l.chunks, make([]event, 0, eventChunk))
	}
	c := &l.chunks[len(l.chunks)-1]
	*c = append(*c, e)
	l.n++
}

func (l *eventLog) at(k int) *event { return &l.chunks[k/eventChunk][k%eventChunk] }

// objRef names a deleted object's row.
type objRef struct {
	u uni
	i int32
}

// renderDeleted renders deleted object r as it was just before its
// deletion: the children deleted with it (at the same instant) are part
// of it again. Deleted rows never change, so this is what the API showed.
func (st *store) renderDeleted(r objRef) map[string]any {
	i := int(r.i)
	at := st.t[r.u].dead[i]
	with := func(u uni, i int, k uni) []int {
		var out []int
		for j := range st.children(u, i, k) {
			if d := st.t[k].dead[j]; d == 0 || d == at {
				out = append(out, j)
			}
		}
		return out
	}
	contact := func(ci int) map[string]any {
		obj := st.contactJSON(ci)
		emails, phones, urls := []any{}, []any{}, []any{}
		ec, pc, uc := st.t[uEmail].cols, st.t[uPhone].cols, st.t[uURL].cols
		for _, j := range with(uContact, ci, uEmail) {
			emails = append(emails, map[string]any{"email": ec["email"].str[j], "type": ec["type"].str[j], "is_unsubscribed": ec["is_unsubscribed"].bl[j] == 1})
		}
		for _, j := range with(uContact, ci, uPhone) {
			p := pc["phone"].str[j]
			phones = append(phones, map[string]any{"phone": p, "phone_formatted": formatPhone(p), "type": pc["type"].str[j]})
		}
		for _, j := range with(uContact, ci, uURL) {
			urls = append(urls, map[string]any{"url": uc["url"].str[j], "type": uc["type"].str[j]})
		}
		obj["emails"], obj["phones"], obj["urls"] = emails, phones, urls
		return obj
	}
	switch r.u {
	case uLead:
		obj := st.leadJSON(i)
		contacts, ids, addrs := []any{}, []any{}, []any{}
		for _, j := range with(uLead, i, uContact) {
			contacts = append(contacts, contact(j))
			ids = append(ids, st.t[uContact].ids[j])
		}
		for _, j := range with(uLead, i, uAddress) {
			addrs = append(addrs, st.addressJSON(j))
		}
		obj["contacts"], obj["contact_ids"], obj["addresses"] = contacts, ids, addrs
		for k, key := range map[uni]string{uOpp: "opportunities", uTask: "tasks"} {
			list := []any{}
			for _, j := range with(uLead, i, k) {
				list = append(list, st.objectJSON(k, j))
			}
			obj[key] = list
		}
		return obj
	case uContact:
		return contact(i)
	}
	return st.objectJSON(r.u, i)
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

func (st *store) eventJSON(a *apiState, n int, e *event, orgID string) map[string]any {
	objectType, objectID, leadID, action := st.eventFields(e)
	var data, prev any = map[string]any{}, map[string]any{}
	changed := []string{}
	if b := e.body; b != nil {
		if b.data != nil {
			data = b.data
		}
		if b.prev != nil {
			prev = b.prev
		}
		if b.changed != nil {
			changed = b.changed
		}
	} else {
		prev = st.renderDeleted(e.ref)
	}
	o := e.org
	var meta any = map[string]any{}
	switch {
	case o.bulkID != "":
		meta = map[string]any{"bulk_action_id": o.bulkID}
	case o.meta != nil:
		meta = o.meta
	}
	at := fmtTime(time.Unix(0, e.at))
	return map[string]any{
		"id": a.eventID(n), "date_created": at, "date_updated": at, "organization_id": orgID,
		"user_id": nullStr(o.userID), "request_id": nullStr(o.requestID), "api_key_id": nullStr(o.apiKeyID),
		"oauth_client_id": nil, "oauth_scope": nil,
		"object_type": objectType, "object_id": objectID, "lead_id": nullStr(leadID), "action": action,
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
	start := a.events.n - 1
	if cur := q.Get("_cursor"); cur != "" {
		n, ok := decodeEventCursor(cur)
		if !ok || n > a.events.n {
			fieldError(c.w, "_cursor", "Invalid cursor")
			return
		}
		start = n - 1
	}
	oldest := c.s.now().Add(-eventRetention).UnixNano()
	var b [4]int64
	for k, t := range bounds {
		if !t.IsZero() {
			b[k] = t.UnixNano()
		}
	}
	data := []any{}
	next := any(nil)
	for k := start; k >= 0; k-- {
		e := a.events.at(k)
		if e.at < oldest {
			break
		}
		if !c.s.st.eventMatches(e, want, b) {
			continue
		}
		if len(data) == limit {
			next = encodeEventCursor(k + 1)
			break
		}
		data = append(data, c.selectFields(c.s.st.eventJSON(a, k, e, c.s.st.orgID)))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "cursor_next": next})
}

// eventMatches reports whether e passes the filters: want by name, and
// the date_updated bounds (gte, gt, lte, lt; 0 = none) in unix ns.
func (st *store) eventMatches(e *event, want map[string]string, b [4]int64) bool {
	switch {
	case b[0] != 0 && e.at < b[0], b[1] != 0 && e.at <= b[1], b[2] != 0 && e.at > b[2], b[3] != 0 && e.at >= b[3]:
		return false
	}
	if len(want) == 0 {
		return true
	}
	objectType, objectID, leadID, action := st.eventFields(e)
	for f, v := range want {
		var got string
		switch f {
		case "action":
			got = action
		case "lead_id":
			got = leadID
		case "object_id":
			got = objectID
		case "object_type":
			got = objectType
		case "request_id":
			got = e.org.requestID
		case "user_id":
			got = e.org.userID
		}
		if got != v {
			return false
		}
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
	a := c.s.api
	e, n := a.eventByID(id)
	if e == nil || e.at < c.s.now().Add(-eventRetention).UnixNano() {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.st.eventJSON(a, n, e, c.s.st.orgID)))
}
