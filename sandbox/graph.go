package sandbox

import (
	"fmt"
	"iter"
	"math"
	"strings"
	"time"
)

// The rest of Close's lead graph beyond contacts, emails, phones and
// addresses: contact urls, opportunities (with their statuses and
// pipelines), tasks, the activity types, custom objects and sequence
// subscriptions, and custom fields on contacts and opportunities
// (docs/close-filter-fields.md lists the fields and how sure each one is).
//
// Every kind is a table of columns like the lead's (store.go): a row per
// object, deleted rows kept (dead) for index lag and cursors. A row's owner
// is in parent; the owner's kids[k] is the contiguous run of its children
// of kind k inserted with it, and kidsMore the ones added later (through
// the API), so has_related, roll-ups and cascades see both.

// oppStatus is an opportunity status (GET /status/opportunity/): its type
// is active, won or lost [DOC: Close's opportunity statuses have a type].
type oppStatus struct {
	ID, Label, Type, PipelineID string
}

// pipeline groups opportunity statuses.
type pipeline struct {
	ID, Name string
}

// namedType is a custom activity type, a custom object type or a sequence:
// metadata that objects reference by id.
type namedType struct {
	ID, Name string
}

// graphMeta is the organization's metadata for the graph kinds.
type graphMeta struct {
	oppStatuses   []oppStatus
	oppStatusByID map[string]int
	pipelines     []pipeline
	actTypes      []namedType // custom activity types (actitype_…)
	objTypes      []namedType // custom object types (cotype_…)
	sequences     []namedType // sequences (seq_…)
	objectCFs     [numUni][]*customField
	derived       derivedCache
	gen           uint64 // bumped by every change of the data
	onDeleteHook  DeleteHook
	// onDeleteRow is the event log's hook (events.go): told which row
	// went, it renders nothing until the event is read.
	onDeleteRow func(u uni, i int, bulkID string)
	// source is the base name of the export the organization was loaded
	// from ("" for demo data).
	source string
}

// DeleteHook is called for every object a delete removes (the object
// itself and everything the cascade takes with it), after it is gone:
// kind is the object type name ("lead", "contact", "opportunity",
// "activity.call", …), id its id ("" for kinds without ids, e.g. a
// contact's email), leadID its lead's id, previous its last data as the
// API showed it, and bulkActionID the bulk delete that removed it ("" for a
// single delete). The event log plugs in here; it runs under the server's
// write lock and must not call back into the Server.
type DeleteHook func(kind, id, leadID string, previous map[string]any, bulkActionID string)

// isActivity reports whether u is one of the activity kinds.
func (u uni) isActivity() bool { return u >= uActEmail && u <= uActCustom }

// activityKinds lists the activity kinds in output order.
var activityKinds = []uni{uActEmail, uActCall, uActSMS, uActMeeting, uActNote, uActCustom}

// activityType is the `_type` an export gives each activity kind
// (docs/close-api.md §9: Close's import script reads Call, Note, SMS; the
// others are the names of Close's activity objects [INF]).
var activityType = map[uni]string{uActEmail: "Email", uActCall: "Call", uActSMS: "SMS", uActMeeting: "Meeting",
	uActNote: "Note", uActCustom: "CustomActivity"}

func activityKindOf(typ string) (uni, bool) {
	for u, t := range activityType {
		if strings.EqualFold(t, typ) {
			return u, true
		}
	}
	return 0, false
}

// idPrefix is the id prefix of each kind that has ids (docs/close-api.md §4.7).
var idPrefix = [numUni]string{uLead: "lead_", uContact: "cont_", uOpp: "oppo_", uTask: "task_",
	uActEmail: "acti_", uActCall: "acti_", uActSMS: "acti_", uActMeeting: "acti_", uActNote: "acti_", uActCustom: "custact_",
	uCustomObject: "custobj_", uSeqSub: "sub_"}

// defineGraph adds the columns of the graph kinds (and the graph columns
// of the older ones) to a new store.
func (st *store) defineGraph() {
	st.oppStatusByID = map[string]int{}
	t := st.t
	t[uLead].kids[uOpp], t[uLead].kids[uTask], t[uLead].kids[uCustomObject] = []span{}, []span{}, []span{}
	for _, k := range activityKinds {
		t[uLead].kids[k] = []span{}
	}
	t[uContact].kids[uURL], t[uContact].kids[uSeqSub] = []span{}, []span{}

	t[uContact].addCol(&column{name: "urls_count", kind: kNumber})
	t[uAddress].addCol(&column{name: "location", kind: kText})

	u := t[uURL]
	u.addCol(&column{name: "url", kind: kText})
	u.addCol(&column{name: "type", kind: kText, shared: true})

	o := t[uOpp]
	o.addCol(&column{name: "lead_id", kind: kRef, refType: "lead"})
	o.addCol(&column{name: "contact_id", kind: kRef, refType: "contact"})
	o.addCol(&column{name: "user_id", kind: kRef, refType: "user"})
	o.addCol(&column{name: "status_id", kind: kRef, refType: "status.opportunity"})
	o.addCol(&column{name: "status_label", kind: kText, shared: true})
	o.addCol(&column{name: "status_type", kind: kText, shared: true})
	o.addCol(&column{name: "pipeline_id", kind: kRef, refType: "pipeline"})
	o.addCol(&column{name: "pipeline_name", kind: kText, shared: true})
	o.addCol(&column{name: "value", kind: kNumber})
	o.addCol(&column{name: "value_period", kind: kText, shared: true})
	o.addCol(&column{name: "value_currency", kind: kText, shared: true})
	o.addCol(&column{name: "annualized_value", kind: kNumber})
	o.addCol(&column{name: "expected_value", kind: kNumber})
	o.addCol(&column{name: "confidence", kind: kNumber})
	o.addCol(&column{name: "note", kind: kText})
	o.addCol(&column{name: "date_won", kind: kDate})
	o.addCol(&column{name: "date_lost", kind: kDate})
	addAudit(o)

	k := t[uTask]
	k.addCol(&column{name: "lead_id", kind: kRef, refType: "lead"})
	k.addCol(&column{name: "assigned_to", kind: kRef, refType: "user"})
	k.addCol(&column{name: "text", kind: kText})
	k.addCol(&column{name: "is_complete", kind: kBool})
	k.addCol(&column{name: "date", kind: kDate})
	k.addCol(&column{name: "type", kind: kText, shared: true})
	addAudit(k)

	for _, a := range activityKinds {
		c := t[a]
		c.addCol(&column{name: "lead_id", kind: kRef, refType: "lead"})
		c.addCol(&column{name: "contact_id", kind: kRef, refType: "contact"})
		c.addCol(&column{name: "user_id", kind: kRef, refType: "user"})
		switch a {
		case uActEmail:
			c.addCol(&column{name: "direction", kind: kText, shared: true})
			c.addCol(&column{name: "status", kind: kText, shared: true})
			c.addCol(&column{name: "subject", kind: kText, shared: true})
			c.addCol(&column{name: "sender", kind: kText, shared: true})
			c.addCol(&column{name: "date_sent", kind: kDate})
			c.addCol(&column{name: "has_reply", kind: kBool})
		case uActCall:
			c.addCol(&column{name: "direction", kind: kText, shared: true})
			c.addCol(&column{name: "status", kind: kText, shared: true})
			c.addCol(&column{name: "disposition", kind: kText, shared: true})
			c.addCol(&column{name: "duration", kind: kNumber})
			c.addCol(&column{name: "phone", kind: kText, phone: true})
			c.addCol(&column{name: "note", kind: kText, shared: true})
		case uActSMS:
			c.addCol(&column{name: "direction", kind: kText, shared: true})
			c.addCol(&column{name: "status", kind: kText, shared: true})
			c.addCol(&column{name: "text", kind: kText, shared: true})
			c.addCol(&column{name: "date_sent", kind: kDate})
		case uActMeeting:
			c.addCol(&column{name: "title", kind: kText, shared: true})
			c.addCol(&column{name: "status", kind: kText, shared: true})
			c.addCol(&column{name: "starts_at", kind: kDate})
			c.addCol(&column{name: "ends_at", kind: kDate})
			c.addCol(&column{name: "duration", kind: kNumber})
		case uActNote:
			c.addCol(&column{name: "note", kind: kText, shared: true})
		case uActCustom:
			c.addCol(&column{name: "custom_activity_type_id", kind: kRef, refType: "custom_activity_type"})
			c.addCol(&column{name: "status", kind: kText, shared: true})
		}
		addAudit(c)
	}

	co := t[uCustomObject]
	co.addCol(&column{name: "lead_id", kind: kRef, refType: "lead"})
	co.addCol(&column{name: "custom_object_type_id", kind: kRef, refType: "custom_object_type"})
	co.addCol(&column{name: "name", kind: kText, shared: true})
	addAudit(co)

	ss := t[uSeqSub]
	ss.addCol(&column{name: "contact_id", kind: kRef, refType: "contact"})
	ss.addCol(&column{name: "lead_id", kind: kRef, refType: "lead"})
	ss.addCol(&column{name: "sequence_id", kind: kRef, refType: "sequence"})
	ss.addCol(&column{name: "status", kind: kText, shared: true})
	addAudit(ss)
}

func addAudit(t *table) {
	t.addCol(&column{name: "created_by", kind: kRef, refType: "user"})
	t.addCol(&column{name: "updated_by", kind: kRef, refType: "user"})
	t.addCol(&column{name: "date_created", kind: kDate})
	t.addCol(&column{name: "date_updated", kind: kDate})
}

// --- children ----------------------------------------------------------------

// children iterates over the indexes of i's children of kind k (deleted
// ones included): the run inserted with i, then the ones added later.
func (st *store) children(pu uni, i int, k uni) iter.Seq[int] {
	return func(yield func(int) bool) {
		t := st.t[pu]
		if spans := t.kids[k]; i < len(spans) {
			s := spans[i]
			for j := s.off; j < s.off+s.n; j++ {
				if !yield(int(j)) {
					return
				}
			}
		}
		for _, j := range t.kidsMore[k][int32(i)] {
			if !yield(int(j)) {
				return
			}
		}
	}
}

// padKids gives every object of t a (possibly empty) run for each child
// kind, so kids[k][i] exists for every i.
func (st *store) padKids(t *table) {
	for k := range t.kids {
		if t.kids[k] == nil {
			continue
		}
		for len(t.kids[k]) < t.n() {
			t.kids[k] = append(t.kids[k], span{off: uint32(st.t[k].n())})
		}
	}
}

// padRow appends the unset value to every column of t that has fewer
// values than t has objects, which finishes a row written column by column.
func (st *store) padRow(t *table) {
	n := t.n()
	for _, c := range t.order {
		for c.len() < n {
			st.appendNull(c)
		}
	}
}

func (c *column) len() int {
	switch c.kind {
	case kText, kRef:
		return len(c.str)
	case kDate:
		return len(c.tm)
	case kNumber:
		return len(c.num)
	case kBool:
		return len(c.bl)
	}
	return 0
}

// addRow appends an object of kind k owned by parent (an index of k's
// owner kind; -1 for a lead) with this id ("" makes one for kinds that have
// ids) and returns its index. Its columns are then written with put* and
// finished with padRow. A child that does not extend its parent's run is
// kept in kidsMore.
func (st *store) addRow(k uni, parent int, id string) int {
	t := st.t[k]
	i := t.n()
	if id == "" && idPrefix[k] != "" {
		id = randID(st.idRand, idPrefix[k])
	}
	t.ids = append(t.ids, id)
	if id != "" {
		t.byID[id] = int32(i)
	}
	t.parent = append(t.parent, int32(parent))
	t.dead = append(t.dead, 0)
	t.live++
	st.gen++
	if k != uLead && parent >= 0 {
		pt := st.t[uniParent[k]]
		st.padKids(pt)
		s := &pt.kids[k][parent]
		switch {
		case s.n == 0 && len(pt.kidsMore[k][int32(parent)]) == 0:
			s.off, s.n = uint32(i), 1
		case int(s.off+s.n) == i && len(pt.kidsMore[k][int32(parent)]) == 0:
			s.n++
		default:
			if pt.kidsMore[k] == nil {
				pt.kidsMore[k] = map[int32][]int32{}
			}
			pt.kidsMore[k][int32(parent)] = append(pt.kidsMore[k][int32(parent)], int32(i))
		}
	}
	return i
}

func (st *store) putText(t *table, col, v string) { st.appendText(t.cols[col], v) }
func (st *store) putRef(t *table, col, v string) {
	c := t.cols[col]
	c.str = append(c.str, v)
}
func (st *store) putNum(t *table, col string, v float64) {
	c := t.cols[col]
	c.num = append(c.num, v)
}
func (st *store) putTime(t *table, col string, v time.Time) {
	c := t.cols[col]
	if v.IsZero() {
		c.tm = append(c.tm, noTime)
		return
	}
	c.tm = append(c.tm, v.UnixMicro())
}
func (st *store) putBool(t *table, col string, v bool) {
	c := t.cols[col]
	var b int8
	if v {
		b = 1
	}
	c.bl = append(c.bl, b)
}

// setValue replaces the value of column c of object i with v (Go or
// JSON-decoded data; nil unsets it). The API's updates use it.
func (st *store) setValue(c *column, i int, v any) error {
	st.gen++
	if v == nil {
		switch c.kind {
		case kText:
			c.str[i], c.tok[i] = "", span{}
		case kRef:
			c.str[i] = ""
		case kDate:
			c.tm[i] = noTime
		case kNumber:
			c.num[i] = math.NaN()
		case kBool:
			c.bl[i] = -1
		}
		return nil
	}
	switch c.kind {
	case kText:
		s := textOf(v)
		c.str[i] = s
		if c.shared {
			if sp, ok := st.sharedTok[s]; ok {
				c.tok[i] = sp
				return nil
			}
			sp := st.tokenize(s)
			st.sharedTok[s] = sp
			c.tok[i] = sp
			return nil
		}
		if c.phone {
			c.tok[i] = st.tokenize(formatPhone(s))
			return nil
		}
		c.tok[i] = st.tokenize(s)
	case kRef:
		c.str[i] = textOf(v)
	case kNumber:
		f, err := numberOf(v)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		c.num[i] = f
	case kDate:
		t, err := timeOf(v)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		c.tm[i] = t.UnixMicro()
	case kBool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%s is a boolean, got %T", c.name, v)
		}
		c.bl[i] = 0
		if b {
			c.bl[i] = 1
		}
	}
	return nil
}

// multiSep joins the values of a multi-value field in its column.
const multiSep = ", "

func textOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []string:
		return strings.Join(x, multiSep)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, multiSep)
	}
	return fmt.Sprint(v)
}

func numberOf(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case interface{ Float64() (float64, error) }:
		return x.Float64()
	case string:
		var f float64
		if _, err := fmt.Sscan(x, &f); err != nil {
			return 0, fmt.Errorf("%q is not a number", x)
		}
		return f, nil
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}

func timeOf(v any) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return x, nil
	case string:
		return parseCloseTime(x)
	}
	return time.Time{}, fmt.Errorf("want a date, got %T", v)
}

// --- deleting ---------------------------------------------------------------

// deleteObject deletes object i of kind u and everything it owns (a lead
// its contacts, addresses, opportunities, tasks, activities and custom
// objects; a contact its emails, phones, urls and sequence subscriptions),
// as Close does (docs/close-api.md §1.5), calling the delete hook for each
// object removed. It reports whether i existed.
func (st *store) deleteObject(u uni, i int, at int64, bulkID string) bool {
	t := st.t[u]
	if t.dead[i] != 0 {
		return false
	}
	var prev map[string]any
	if st.onDeleteHook != nil {
		prev = st.objectJSON(u, i)
	}
	t.kill(i, at)
	st.gen++
	for k := range numUni {
		if t.kids[k] == nil {
			continue
		}
		for j := range st.children(u, i, k) {
			st.deleteObject(k, j, at, bulkID)
		}
	}
	if st.onDeleteRow != nil {
		st.onDeleteRow(u, i, bulkID)
	}
	if st.onDeleteHook != nil {
		leadID := st.t[uLead].ids[st.ancestor(u, i, uLead)]
		st.onDeleteHook(uniName[u], t.ids[i], leadID, prev, bulkID)
	}
	return true
}

// SetDeleteHook installs fn (nil removes it) as the hook every delete
// calls for each object it removes.
func (s *Server) SetDeleteHook(fn DeleteHook) {
	s.mu.Lock()
	s.st.onDeleteHook = fn
	s.mu.Unlock()
}

// --- rendering ----------------------------------------------------------------

// objectJSON renders any object as the API shows it: the lead and the
// contact as GET /lead/ and /contact/ do, others with their id, every
// column (custom fields as flat custom.cf_… keys) and, for an activity,
// its _type.
func (st *store) objectJSON(u uni, i int) map[string]any {
	switch u {
	case uLead:
		return st.leadJSON(i)
	case uContact:
		return st.contactJSON(i)
	}
	t := st.t[u]
	obj := map[string]any{}
	if t.ids[i] != "" {
		obj["id"] = t.ids[i]
	}
	if idPrefix[u] != "" || u == uAddress {
		obj["organization_id"] = st.orgID
	}
	for _, c := range t.order {
		if c.cf != nil {
			if v := c.value(i); v != nil {
				obj[c.name] = v
			}
			continue
		}
		obj[c.name] = c.value(i)
	}
	if u.isActivity() {
		obj["_type"] = activityType[u]
	}
	if u == uCustomObject {
		obj["lead_id"] = st.t[uLead].ids[t.parent[i]]
	}
	return obj
}

// graphJSON adds to a lead's JSON what a JSON lead export carries beyond
// GET /lead/: its opportunities, tasks, activities (when activities is
// set) and custom objects, live ones only.
func (st *store) graphJSON(li int, obj map[string]any, activities bool) {
	list := func(k uni) []any {
		out := []any{}
		for j := range st.children(uLead, li, k) {
			if st.t[k].dead[j] == 0 {
				out = append(out, st.objectJSON(k, j))
			}
		}
		return out
	}
	obj["opportunities"] = list(uOpp)
	obj["tasks"] = list(uTask)
	obj["custom_objects"] = list(uCustomObject)
	if activities {
		acts := []any{}
		for _, k := range activityKinds {
			acts = append(acts, list(k)...)
		}
		obj["activities"] = acts
	}
}

// --- accessors for the API and tests --------------------------------------------

// Origin says what the sandbox serves, for start-up messages: the demo
// organization or the export file it was loaded from.
func (s *Server) Origin() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.st.source != "" {
		return fmt.Sprintf("a copy of the Close export %s (%d leads)", s.st.source, s.st.t[uLead].live)
	}
	return fmt.Sprintf("demo data (seed %d, %d leads)", s.opts.Seed, s.st.t[uLead].live)
}

// OppStatusID returns the id of the opportunity status with this label.
func (s *Server) OppStatusID(label string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, o := range s.st.oppStatuses {
		if strings.EqualFold(o.Label, label) {
			return o.ID, true
		}
	}
	return "", false
}

// Count is how many objects of the named type ("opportunity",
// "activity.call", …) exist.
func (s *Server) Count(objectType string) int {
	u, ok := uniByName(objectType)
	if !ok {
		return 0
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.t[u].live
}

func (st *store) addOppStatus(o oppStatus) {
	st.oppStatusByID[o.ID] = len(st.oppStatuses)
	st.oppStatuses = append(st.oppStatuses, o)
}

func (st *store) pipelineName(id string) string {
	for _, p := range st.pipelines {
		if p.ID == id {
			return p.Name
		}
	}
	return ""
}

// contactURLs is a contact's urls as the contact object shows them.
func (st *store) contactURLs(ci int) []any {
	out := []any{}
	uc := st.t[uURL].cols
	for j := range st.children(uContact, ci, uURL) {
		if st.t[uURL].dead[j] == 0 {
			out = append(out, map[string]any{"url": uc["url"].str[j], "type": uc["type"].str[j]})
		}
	}
	return out
}

// contactCustom adds a contact's custom field values as flat custom.cf_…
// keys, as Close shows them on leads.
func (st *store) contactCustom(ci int, obj map[string]any) {
	for _, cf := range st.objectCFs[uContact] {
		if v := cf.cols[uContact].value(ci); v != nil {
			obj["custom."+cf.ID] = v
		}
	}
}

func init() {
	// _fields of searched opportunities and custom objects: their columns
	// and these.
	for _, u := range []uni{uOpp, uCustomObject} {
		searchExtras[u] = []string{"id", "organization_id", "custom"}
	}
}
