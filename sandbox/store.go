package sandbox

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// uni is one kind of object the sandbox stores and the grammar can filter:
// the object types of docs/close-api.md §3.7 (graph.go describes the kinds after
// address).
type uni uint8

const (
	uLead uni = iota
	uContact
	uEmail
	uPhone
	uAddress
	uURL
	uOpp
	uTask
	uActEmail
	uActCall
	uActSMS
	uActMeeting
	uActNote
	uActCustom
	uCustomObject
	uSeqSub
	numUni
)

var uniName = [numUni]string{"lead", "contact", "contact_email", "contact_phone", "address",
	"contact_url", "opportunity", "task", "activity.email", "activity.call", "activity.sms",
	"activity.meeting", "activity.note", "activity.custom_activity", "custom_object", "sequence_subscription"}

// uniParent is the owner of each kind: contacts, addresses, opportunities,
// tasks, activities and custom objects belong to a lead; emails, phones,
// urls and sequence subscriptions to a contact. A lead has no owner (its
// entry is unused). has_related follows these links in either direction.
var uniParent = [numUni]uni{uLead, uLead, uContact, uContact, uLead,
	uContact, uLead, uLead, uLead, uLead, uLead, uLead, uLead, uLead, uLead, uContact}

func uniByName(s string) (uni, bool) {
	for u, n := range uniName {
		if n == s {
			return uni(u), true
		}
	}
	return 0, false
}

// depth of a kind in the ownership tree (lead 0).

// isAncestor reports whether a is an owner (direct or not) of b.
func isAncestor(a, b uni) bool {
	for b != uLead {
		b = uniParent[b]
		if b == a {
			return true
		}
	}
	return false
}

// kind is the value type of a column, which decides the conditions that
// apply to it (docs/close-api.md §3.4: "The field's value type decides which
// condition applies").
type kind uint8

const (
	kText kind = iota
	kRef
	kDate
	kNumber
	kBool
)

var kindName = [...]string{"text", "reference", "date", "number", "boolean"}

// span is a run of token ids in the store's arena.
type span struct{ off, n uint32 }

// noTime marks an unset date.
const noTime = math.MinInt64

// column holds one field of every object of a table. Values are kept both
// raw (for output and exact matches) and pre-processed for evaluation
// (token ids, unix microseconds), so a query never parses or lowercases a
// stored value.
type column struct {
	name    string
	kind    kind
	refType string // kRef: "user", "status.lead", "lead"
	// shared: values repeat a lot (titles, types, labels), so identical
	// strings share one token span.
	shared bool
	// phone: exact_value compares digits only, as Close normalises phone
	// numbers to E.164.
	phone bool
	// multi: the text value is a ", "-joined list (multi-value custom field
	// from an export); term matches any element.
	multi bool
	// dateOnly: a date custom field, written YYYY-MM-DD.
	dateOnly bool
	cf       *customField

	str []string  // kText raw value ("" = empty/null); kRef id ("" = none)
	tok []span    // kText
	num []float64 // kNumber; NaN = unset
	tm  []int64   // kDate; unix microseconds, noTime = unset
	bl  []int8    // kBool; -1 unset
}

// table holds every object of one kind, deleted ones included (they stay
// addressable for index lag and cursors that were issued before).
type table struct {
	u      uni
	ids    []string // "" for kinds Close gives no id (emails, phones, addresses)
	byID   map[string]int32
	parent []int32
	// kids[k] is, for each object, the contiguous run of its children of
	// kind k (objects are always inserted together with their children).
	kids [numUni][]span
	// kidsMore[k] lists, by object, its children of kind k added after its
	// run (graph.go).
	kidsMore [numUni]map[int32][]int32
	// dead is when the object was deleted (unix nanoseconds of the
	// sandbox clock), 0 while it exists.
	dead []int64
	live int
	cols map[string]*column
	// order lists the columns in output order.
	order []*column
}

func (t *table) n() int { return len(t.dead) }

func (t *table) addCol(c *column) *column {
	if t.cols == nil {
		t.cols = map[string]*column{}
	}
	t.cols[c.name] = c
	t.order = append(t.order, c)
	return c
}

// status is a lead status (GET /status/lead/).
type status struct{ ID, Label string }

// user is a member of the organization.
type user struct {
	ID, FirstName, LastName, Email string
	Created                        time.Time
}

func (u *user) name() string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// customField is a lead custom field (GET /custom_field/lead/).
type customField struct {
	ID, Name, Type string // Type: choices, text, number, date
	Choices        []string
	Multiple       bool
	Created        time.Time
	col            *column
	// objects are the kinds the field belongs to besides leads (contact
	// and opportunity fields, shared fields; graph.go), and cols their
	// columns.
	objects []uni
	cols    [numUni]*column
}

// store is the organization: objects, their indexes, and the metadata
// (users, statuses, custom fields, Smart Views). The Server's mutex guards it.
type store struct {
	orgID, orgName string
	t              [numUni]*table

	users      []*user
	userByID   map[string]*user
	statuses   []status
	statusByID map[string]int
	cfs        []*customField
	cfByID     map[string]*customField
	views      []*smartView
	viewByID   map[string]*smartView

	// token dictionary: every distinct lowercased word of every text value.
	dict  map[string]uint32
	words []string
	arena []uint32
	// sorted lists token ids by word for prefix search; rebuilt when the
	// dictionary has grown since.
	sorted    []uint32
	sortedMu  sync.Mutex // searches run concurrently under the read lock
	sharedTok map[string]span
	wordBuf   []byte

	idRand *rand.Rand

	graphMeta
}

func newStore(seed int64) *store {
	st := &store{
		userByID:   map[string]*user{},
		statusByID: map[string]int{},
		cfByID:     map[string]*customField{},
		viewByID:   map[string]*smartView{},
		dict:       map[string]uint32{},
		sharedTok:  map[string]span{},
		idRand:     rand.New(rand.NewPCG(uint64(seed), 0x5eed1d5)),
	}
	for u := range numUni {
		st.t[u] = &table{u: u, byID: map[string]int32{}}
	}
	lead, cont, em, ph, ad := st.t[uLead], st.t[uContact], st.t[uEmail], st.t[uPhone], st.t[uAddress]
	lead.addCol(&column{name: "name", kind: kText, shared: true})
	lead.addCol(&column{name: "display_name", kind: kText, shared: true})
	lead.addCol(&column{name: "description", kind: kText, shared: true})
	lead.addCol(&column{name: "url", kind: kText})
	lead.addCol(&column{name: "status_id", kind: kRef, refType: "status.lead"})
	lead.addCol(&column{name: "status_label", kind: kText, shared: true})
	lead.addCol(&column{name: "created_by", kind: kRef, refType: "user"})
	lead.addCol(&column{name: "updated_by", kind: kRef, refType: "user"})
	lead.addCol(&column{name: "date_created", kind: kDate})
	lead.addCol(&column{name: "date_updated", kind: kDate})
	lead.addCol(&column{name: "last_communication_date", kind: kDate})
	lead.addCol(&column{name: "addresses_count", kind: kNumber})
	lead.kids[uContact] = []span{}
	lead.kids[uAddress] = []span{}

	cont.addCol(&column{name: "name", kind: kText, shared: true})
	cont.addCol(&column{name: "display_name", kind: kText, shared: true})
	cont.addCol(&column{name: "title", kind: kText, shared: true})
	cont.addCol(&column{name: "lead_id", kind: kRef, refType: "lead"})
	cont.addCol(&column{name: "emails_count", kind: kNumber})
	cont.addCol(&column{name: "phones_count", kind: kNumber})
	cont.addCol(&column{name: "created_by", kind: kRef, refType: "user"})
	cont.addCol(&column{name: "updated_by", kind: kRef, refType: "user"})
	cont.addCol(&column{name: "date_created", kind: kDate})
	cont.addCol(&column{name: "date_updated", kind: kDate})
	cont.kids[uEmail] = []span{}
	cont.kids[uPhone] = []span{}

	em.addCol(&column{name: "email", kind: kText})
	em.addCol(&column{name: "type", kind: kText, shared: true})
	em.addCol(&column{name: "is_unsubscribed", kind: kBool})

	ph.addCol(&column{name: "phone", kind: kText, phone: true})
	ph.addCol(&column{name: "type", kind: kText, shared: true})

	ad.addCol(&column{name: "label", kind: kText, shared: true})
	ad.addCol(&column{name: "address_1", kind: kText})
	ad.addCol(&column{name: "address_2", kind: kText})
	ad.addCol(&column{name: "city", kind: kText, shared: true})
	ad.addCol(&column{name: "state", kind: kText, shared: true})
	ad.addCol(&column{name: "zipcode", kind: kText})
	ad.addCol(&column{name: "country", kind: kText, shared: true})
	st.defineGraph()
	return st
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randID is a Close-looking id: prefix + 43 base62 characters.
func randID(r *rand.Rand, prefix string) string {
	b := make([]byte, len(prefix)+43)
	copy(b, prefix)
	for i := len(prefix); i < len(b); {
		v := r.Uint64()
		for k := 0; k < 10 && i < len(b); k++ {
			b[i] = idAlphabet[v%62]
			v /= 62
			i++
		}
	}
	return string(b)
}

func (st *store) addUser(u *user) {
	st.users = append(st.users, u)
	st.userByID[u.ID] = u
}

func (st *store) addStatus(s status) {
	st.statusByID[s.ID] = len(st.statuses)
	st.statuses = append(st.statuses, s)
}

func (st *store) statusByLabel(label string) (status, bool) {
	for _, s := range st.statuses {
		if strings.EqualFold(s.Label, label) {
			return s, true
		}
	}
	return status{}, false
}

// addCustomField registers a lead custom field and back-fills its column
// for the leads that already exist.
func (st *store) addCustomField(cf *customField) {
	lead := st.t[uLead]
	c := &column{name: "custom." + cf.ID, cf: cf}
	switch cf.Type {
	case "number":
		c.kind = kNumber
	case "date", "datetime":
		c.kind = kDate
		c.dateOnly = cf.Type == "date"
	case "user":
		c.kind, c.refType, c.multi = kRef, "user", cf.Multiple
	default:
		c.kind = kText
		c.shared = cf.Type == "choices"
		c.multi = cf.Multiple
	}
	for range lead.n() {
		st.appendNull(c)
	}
	cf.col = c
	lead.addCol(c)
	st.cfs = append(st.cfs, cf)
	st.cfByID[cf.ID] = cf
}

func (st *store) customFieldByName(name string) *customField {
	if cf := st.cfByID[name]; cf != nil {
		return cf
	}
	if cf := st.cfByID[strings.TrimPrefix(name, "custom.")]; cf != nil {
		return cf
	}
	for _, cf := range st.cfs {
		if strings.EqualFold(cf.Name, name) {
			return cf
		}
	}
	return nil
}

// --- tokens ---------------------------------------------------------------

// eachWord calls fn with every word of v, lowercased. A word is a run of
// letters and digits; everything else separates words. fn's argument is
// only valid during the call.
func eachWord(v string, buf []byte, fn func(w []byte)) []byte {
	buf = buf[:0]
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				buf = append(buf, c)
			case 'A' <= c && c <= 'Z':
				buf = append(buf, c+'a'-'A')
			default:
				if len(buf) > 0 {
					fn(buf)
					buf = buf[:0]
				}
			}
			continue
		}
		r, sz := utf8.DecodeRuneInString(v[i:])
		i += sz
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			buf = utf8.AppendRune(buf, unicode.ToLower(r))
		} else if len(buf) > 0 {
			fn(buf)
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		fn(buf)
	}
	return buf
}

// queryWords splits a query value the same way stored values are split.
func queryWords(v string) []string {
	var out []string
	eachWord(v, nil, func(w []byte) { out = append(out, string(w)) })
	return out
}

func (st *store) intern(w []byte) uint32 {
	if id, ok := st.dict[string(w)]; ok {
		return id
	}
	id := uint32(len(st.words))
	s := string(w)
	st.dict[s] = id
	st.words = append(st.words, s)
	return id
}

func (st *store) tokenize(v string) span {
	off := len(st.arena)
	st.wordBuf = eachWord(v, st.wordBuf, func(w []byte) { st.arena = append(st.arena, st.intern(w)) })
	return span{uint32(off), uint32(len(st.arena) - off)}
}

// prefixSet marks every dictionary word that starts with p.
func (st *store) prefixSet(p string) bitset {
	st.sortedMu.Lock()
	defer st.sortedMu.Unlock()
	if len(st.sorted) != len(st.words) {
		st.sorted = make([]uint32, len(st.words))
		for i := range st.sorted {
			st.sorted[i] = uint32(i)
		}
		sort.Slice(st.sorted, func(a, b int) bool { return st.words[st.sorted[a]] < st.words[st.sorted[b]] })
	}
	set := newBitset(len(st.words))
	i := sort.Search(len(st.sorted), func(i int) bool { return st.words[st.sorted[i]] >= p })
	for ; i < len(st.sorted) && strings.HasPrefix(st.words[st.sorted[i]], p); i++ {
		set.set(int(st.sorted[i]))
	}
	return set
}

// --- appending values -----------------------------------------------------

// reserve grows every table for about n more leads, so that seeding a large
// organization does not spend its time copying columns.
func (st *store) reserve(n int) {
	// Objects per 100 leads, a little above what the demo seed makes:
	// reserving much more would keep the spare capacity for good.
	per := [numUni]int{uLead: 100, uContact: 205, uEmail: 250, uPhone: 210, uAddress: 65, uURL: 45, uOpp: 80, uTask: 35,
		uActEmail: 175, uActCall: 85, uActSMS: 20, uActMeeting: 16, uActNote: 28, uActCustom: 6, uCustomObject: 2, uSeqSub: 12}
	for u, t := range st.t {
		want := n * per[u] / 100
		t.ids = slices.Grow(t.ids, want)
		t.parent = slices.Grow(t.parent, want)
		t.dead = slices.Grow(t.dead, want)
		for k := range t.kids {
			if t.kids[k] != nil {
				t.kids[k] = slices.Grow(t.kids[k], want)
			}
		}
		for _, c := range t.order {
			switch c.kind {
			case kText:
				c.str = slices.Grow(c.str, want)
				c.tok = slices.Grow(c.tok, want)
			case kRef:
				c.str = slices.Grow(c.str, want)
			case kDate:
				c.tm = slices.Grow(c.tm, want)
			case kNumber:
				c.num = slices.Grow(c.num, want)
			case kBool:
				c.bl = slices.Grow(c.bl, want)
			}
		}
	}
	st.arena = slices.Grow(st.arena, n*16)
	if len(st.t[uLead].byID) == 0 {
		st.t[uLead].byID = make(map[string]int32, n)
		st.t[uContact].byID = make(map[string]int32, 2*n)
	}
}

func (st *store) appendText(c *column, v string) { st.appendTextTok(c, v, v) }

// appendTextTok stores v and indexes the words of tokSrc (which may add
// forms of v that people search for, e.g. a formatted phone number).
func (st *store) appendTextTok(c *column, v, tokSrc string) {
	c.str = append(c.str, v)
	if c.shared {
		if s, ok := st.sharedTok[tokSrc]; ok {
			c.tok = append(c.tok, s)
			return
		}
		s := st.tokenize(tokSrc)
		st.sharedTok[tokSrc] = s
		c.tok = append(c.tok, s)
		return
	}
	c.tok = append(c.tok, st.tokenize(tokSrc))
}

func (st *store) appendNull(c *column) {
	switch c.kind {
	case kText:
		c.str = append(c.str, "")
		c.tok = append(c.tok, span{})
	case kRef:
		c.str = append(c.str, "")
	case kDate:
		c.tm = append(c.tm, noTime)
	case kNumber:
		c.num = append(c.num, math.NaN())
	case kBool:
		c.bl = append(c.bl, -1)
	}
}

// appendValue stores a custom-field value given as Go or JSON-decoded data.
func (st *store) appendValue(c *column, v any) error {
	if v == nil {
		st.appendNull(c)
		return nil
	}
	switch c.kind {
	case kText:
		switch x := v.(type) {
		case string:
			st.appendText(c, x)
		case []string:
			st.appendText(c, strings.Join(x, ", "))
		case []any:
			parts := make([]string, 0, len(x))
			for _, e := range x {
				parts = append(parts, fmt.Sprint(e))
			}
			st.appendText(c, strings.Join(parts, ", "))
		default:
			st.appendText(c, fmt.Sprint(x))
		}
	case kRef:
		c.str = append(c.str, textOf(v))
	case kNumber:
		switch x := v.(type) {
		case float64:
			c.num = append(c.num, x)
		case int:
			c.num = append(c.num, float64(x))
		case int64:
			c.num = append(c.num, float64(x))
		default:
			return fmt.Errorf("custom field %s is a number, got %T", c.name, v)
		}
	case kDate:
		switch x := v.(type) {
		case time.Time:
			c.tm = append(c.tm, x.UnixMicro())
		case string:
			t, err := parseCloseTime(x)
			if err != nil {
				return fmt.Errorf("custom field %s: %w", c.name, err)
			}
			c.tm = append(c.tm, t.UnixMicro())
		default:
			return fmt.Errorf("custom field %s is a date, got %T", c.name, v)
		}
	default:
		return fmt.Errorf("custom field %s has an unsupported kind", c.name)
	}
	return nil
}

// closeTimeLayout is how Close writes timestamps (docs/close-api.md §4.8).
const closeTimeLayout = "2006-01-02T15:04:05.000000-07:00"

func fmtTime(t time.Time) string { return t.UTC().Format(closeTimeLayout) }

func fmtMicros(v int64) any {
	if v == noTime {
		return nil
	}
	return fmtTime(time.UnixMicro(v))
}

// parseCloseTime reads the timestamp forms Close uses: with or without an
// offset (then UTC), with or without fractional seconds, or a bare date.
func parseCloseTime(s string) (time.Time, error) {
	for _, l := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse time %q", s)
}

// --- objects --------------------------------------------------------------

// LeadSpec describes a lead to add with Server.AddLead (tests use it to
// build small organizations by hand, and to make the data drift between a
// preview and a delete). Zero values get defaults: a generated id, status
// "Potential" (the first status), the key's user as creator, the sandbox
// clock's now as dates, no last communication.
type LeadSpec struct {
	ID          string
	Name        string
	Description string
	URL         string
	// Status is a status label ("Bad Fit") or id (stat_…).
	Status                string
	CreatedBy, UpdatedBy  string
	DateCreated           time.Time
	DateUpdated           time.Time
	LastCommunicationDate time.Time
	// Custom values by custom field id (cf_…) or name ("Industry"):
	// string for choices/text, float64 or int for numbers, time.Time or
	// "YYYY-MM-DD" for dates.
	Custom    map[string]any
	Contacts  []ContactSpec
	Addresses []AddressSpec
	// The rest of the lead's graph (graphspec.go).
	Opportunities []OpportunitySpec
	Tasks         []TaskSpec
	Activities    []ActivitySpec
	CustomObjects []CustomObjectSpec
}

// ContactSpec is a contact of a LeadSpec.
type ContactSpec struct {
	ID          string
	Name        string
	Title       string
	Emails      []EmailSpec
	Phones      []PhoneSpec
	DateCreated time.Time
	DateUpdated time.Time
	// URLs, contact custom fields (by id or name) and sequence
	// subscriptions (graphspec.go).
	URLs          []URLSpec
	Custom        map[string]any
	Subscriptions []SubscriptionSpec
}

// EmailSpec is one email address of a contact.
type EmailSpec struct {
	Email        string
	Type         string // office, home, other; default office
	Unsubscribed bool
}

// PhoneSpec is one phone number of a contact.
type PhoneSpec struct {
	Phone string
	Type  string // office, mobile, home, …; default office
}

// AddressSpec is one address of a lead.
type AddressSpec struct {
	Label                         string
	Address1, Address2            string
	City, State, Zipcode, Country string
}

// leadInput is a LeadSpec resolved against the store: custom values by
// custom-field position, status index, and times.
type leadInput struct {
	spec    *LeadSpec
	status  int
	custom  []any
	created time.Time
}

// resolve checks a LeadSpec against the organization.
func (st *store) resolve(sp *LeadSpec, now time.Time) (leadInput, error) {
	in := leadInput{spec: sp, custom: make([]any, len(st.cfs))}
	if sp.Status != "" {
		if i, ok := st.statusByID[sp.Status]; ok {
			in.status = i
		} else if s, ok := st.statusByLabel(sp.Status); ok {
			in.status = st.statusByID[s.ID]
		} else {
			return in, fmt.Errorf("unknown lead status %q", sp.Status)
		}
	}
	for k, v := range sp.Custom {
		cf := st.customFieldByName(k)
		if cf == nil {
			return in, fmt.Errorf("unknown custom field %q", k)
		}
		for i, c := range st.cfs {
			if c == cf {
				in.custom[i] = v
			}
		}
	}
	if sp.ID != "" {
		if _, dup := st.t[uLead].byID[sp.ID]; dup {
			return in, fmt.Errorf("lead %s already exists", sp.ID)
		}
	}
	for _, c := range sp.Contacts {
		if c.ID == "" {
			continue
		}
		if _, dup := st.t[uContact].byID[c.ID]; dup {
			return in, fmt.Errorf("contact %s already exists", c.ID)
		}
	}
	if err := st.checkGraph(sp); err != nil {
		return in, err
	}
	in.created = now
	return in, nil
}

func orTime(t, def time.Time) int64 {
	if t.IsZero() {
		return def.UnixMicro()
	}
	return t.UnixMicro()
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// formatPhone writes a North American E.164 number the way Close's
// phone_formatted does; other numbers are returned unchanged.
func formatPhone(p string) string {
	if len(p) == 12 && strings.HasPrefix(p, "+1") {
		return "+1 " + p[2:5] + "-" + p[5:8] + "-" + p[8:]
	}
	return p
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if '0' <= r && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// insertLead adds a lead with its contacts, their emails and phones, and
// its addresses. Children are appended contiguously, which is what lets a
// table record them as spans. It returns the lead's index.
func (st *store) insertLead(in leadInput) int {
	// A new lead lengthens the lead columns: cached roll-ups are stale.
	st.gen++
	sp := in.spec
	now := in.created
	lt, ct := st.t[uLead], st.t[uContact]
	defUser := st.users[0].ID
	li := lt.n()
	id := sp.ID
	if id == "" {
		id = randID(st.idRand, "lead_")
	}
	created := orTime(sp.DateCreated, now)
	updated := orTime(sp.DateUpdated, time.UnixMicro(created))
	creator := orStr(sp.CreatedBy, defUser)
	updater := orStr(sp.UpdatedBy, creator)

	// contacts first, to know the display name of a nameless lead.
	cStart := ct.n()
	for ci := range sp.Contacts {
		st.insertContact(&sp.Contacts[ci], li, id, creator, updater, created)
	}
	display := sp.Name
	if display == "" && len(sp.Contacts) > 0 {
		display = ct.cols["display_name"].str[cStart]
	}
	lt.kids[uContact] = append(lt.kids[uContact], span{uint32(cStart), uint32(len(sp.Contacts))})

	at := st.t[uAddress]
	aStart := at.n()
	for ai := range sp.Addresses {
		a := &sp.Addresses[ai]
		at.ids = append(at.ids, "")
		at.parent = append(at.parent, int32(li))
		at.dead = append(at.dead, 0)
		at.live++
		st.appendText(at.cols["label"], orStr(a.Label, "business"))
		st.appendText(at.cols["address_1"], a.Address1)
		st.appendText(at.cols["address_2"], a.Address2)
		st.appendText(at.cols["city"], a.City)
		st.appendText(at.cols["state"], a.State)
		st.appendText(at.cols["zipcode"], a.Zipcode)
		st.appendText(at.cols["country"], a.Country)
		st.appendText(at.cols["location"], a.location())
	}
	lt.kids[uAddress] = append(lt.kids[uAddress], span{uint32(aStart), uint32(len(sp.Addresses))})

	stat := st.statuses[in.status]
	lt.ids = append(lt.ids, id)
	lt.byID[id] = int32(li)
	lt.parent = append(lt.parent, -1)
	lt.dead = append(lt.dead, 0)
	lt.live++
	c := lt.cols
	st.appendText(c["name"], sp.Name)
	st.appendText(c["display_name"], display)
	st.appendText(c["description"], sp.Description)
	st.appendText(c["url"], sp.URL)
	c["status_id"].str = append(c["status_id"].str, stat.ID)
	st.appendText(c["status_label"], stat.Label)
	c["created_by"].str = append(c["created_by"].str, creator)
	c["updated_by"].str = append(c["updated_by"].str, updater)
	c["date_created"].tm = append(c["date_created"].tm, created)
	c["date_updated"].tm = append(c["date_updated"].tm, updated)
	lc := int64(noTime)
	if !sp.LastCommunicationDate.IsZero() {
		lc = sp.LastCommunicationDate.UnixMicro()
	}
	c["last_communication_date"].tm = append(c["last_communication_date"].tm, lc)
	c["addresses_count"].num = append(c["addresses_count"].num, float64(len(sp.Addresses)))
	for i, cf := range st.cfs {
		if err := st.appendValue(cf.col, in.custom[i]); err != nil {
			// resolve has checked names; a wrongly typed value is stored
			// as unset rather than leaving the columns misaligned.
			st.appendNull(cf.col)
		}
	}
	st.insertLeadGraph(li, sp)
	return li
}

func (st *store) insertContact(cs *ContactSpec, li int, leadID, creator, updater string, leadCreated int64) {
	ct, et, pt := st.t[uContact], st.t[uEmail], st.t[uPhone]
	ci := ct.n()
	id := cs.ID
	if id == "" {
		id = randID(st.idRand, "cont_")
	}
	ct.ids = append(ct.ids, id)
	ct.byID[id] = int32(ci)
	ct.parent = append(ct.parent, int32(li))
	ct.dead = append(ct.dead, 0)
	ct.live++

	eStart := et.n()
	for _, e := range cs.Emails {
		et.ids = append(et.ids, "")
		et.parent = append(et.parent, int32(ci))
		et.dead = append(et.dead, 0)
		et.live++
		st.appendText(et.cols["email"], e.Email)
		st.appendText(et.cols["type"], orStr(e.Type, "office"))
		var u int8
		if e.Unsubscribed {
			u = 1
		}
		et.cols["is_unsubscribed"].bl = append(et.cols["is_unsubscribed"].bl, u)
	}
	ct.kids[uEmail] = append(ct.kids[uEmail], span{uint32(eStart), uint32(len(cs.Emails))})
	pStart := pt.n()
	for _, p := range cs.Phones {
		pt.ids = append(pt.ids, "")
		pt.parent = append(pt.parent, int32(ci))
		pt.dead = append(pt.dead, 0)
		pt.live++
		// Indexed as formatted ("+1 415-555-0123" → 1, 415, 555, 0123) so
		// its parts can be searched; exact_value compares digits only.
		st.appendTextTok(pt.cols["phone"], p.Phone, formatPhone(p.Phone))
		st.appendText(pt.cols["type"], orStr(p.Type, "office"))
	}
	ct.kids[uPhone] = append(ct.kids[uPhone], span{uint32(pStart), uint32(len(cs.Phones))})

	display := cs.Name
	if display == "" && len(cs.Emails) > 0 {
		display = cs.Emails[0].Email
	}
	c := ct.cols
	st.appendText(c["name"], cs.Name)
	st.appendText(c["display_name"], display)
	st.appendText(c["title"], cs.Title)
	c["lead_id"].str = append(c["lead_id"].str, leadID)
	c["emails_count"].num = append(c["emails_count"].num, float64(len(cs.Emails)))
	c["phones_count"].num = append(c["phones_count"].num, float64(len(cs.Phones)))
	c["created_by"].str = append(c["created_by"].str, creator)
	c["updated_by"].str = append(c["updated_by"].str, updater)
	created := orTime(cs.DateCreated, time.UnixMicro(leadCreated))
	c["date_created"].tm = append(c["date_created"].tm, created)
	c["date_updated"].tm = append(c["date_updated"].tm, orTime(cs.DateUpdated, time.UnixMicro(created)))
	st.insertContactGraph(ci, cs, leadID, creator, created)
}

// --- deleting ---------------------------------------------------------------

func (t *table) kill(i int, at int64) bool {
	if t.dead[i] != 0 {
		return false
	}
	t.dead[i] = at
	t.live--
	return true
}

// deleteLead removes a lead and everything it owns (docs/close-api.md §1.5:
// contacts and the rest "must belong to a lead"; graph.go).
func (st *store) deleteLead(li int, at int64) bool { return st.deleteObject(uLead, li, at, "") }

// ancestor returns the index of i's owner of kind to (i is of kind from).
func (st *store) ancestor(from uni, i int, to uni) int {
	for from != to {
		i = int(st.t[from].parent[i])
		from = uniParent[from]
	}
	return i
}
