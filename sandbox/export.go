package sandbox

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Loading a Close JSON lead export (POST /export/lead/ with format json and
// type leads, docs/close-api.md §6): a JSON array of lead objects, each with its
// contacts (emails, phones, urls, contact custom fields), addresses,
// opportunities, tasks, activities (each with its `_type`; docs/close-api.md §9
// on Close's own import script) and custom fields, as Close's lead object
// (§8.1). The download is gzip-compressed; both forms load. Ids, names,
// statuses, users and dates are kept, so a rehearsal on the copy matches
// what the same query matches in Close.
//
// What an export does not carry is made up: lead statuses come from the
// status_id/status_label pairs seen, opportunity statuses and pipelines
// from the opportunities' status and pipeline fields, users from every
// user id seen (with its *_name), custom activity types from the
// activities. Custom fields come from the flat "custom.cf_…" keys of
// leads, contacts and opportunities (a field seen on several kinds is a
// shared field) and from the deprecated nested "custom" dict, which is
// keyed by name: its names name the flat fields whose values line up, and
// a name with no flat field becomes a field of its own, with an id made
// from its name. Each field's type is inferred from its values
// (inferType). The API key belongs to an extra "Sandbox Rehearsal" user.

func loadExportFile(path string, seed int64, now time.Time) (*store, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose on close
	st, err := loadExport(f, seed, now)
	if err != nil {
		return nil, err
	}
	st.source = filepath.Base(path)
	return st, nil
}

// loadExport reads an export and builds the organization from it.
func loadExport(r io.Reader, seed int64, now time.Time) (*store, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer func() { _ = gz.Close() }() // a bad stream already failed the decode
		br = bufio.NewReader(gz)
	}
	leads, err := decodeExport(br)
	if err != nil {
		return nil, err
	}
	if len(leads) > MaxLeads {
		return nil, fmt.Errorf("the export has %d leads; the sandbox holds at most %d", len(leads), MaxLeads)
	}
	return buildFromExport(leads, seed, now)
}

// obj is one JSON object of the export, numbers kept as json.Number.
type obj map[string]any

func (o obj) str(k string) string {
	switch v := o[k].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func (o obj) num(k string) float64 {
	if n, ok := o[k].(json.Number); ok {
		f, err := n.Float64()
		if err == nil {
			return f
		}
	}
	return 0
}

func (o obj) flag(k string) bool { b, _ := o[k].(bool); return b }

func (o obj) time(k string) time.Time { return parseOrZero(o.str(k)) }

func (o obj) list(k string) []obj {
	l, _ := o[k].([]any)
	out := make([]obj, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			out = append(out, obj(m))
		}
	}
	return out
}

// flatCustom is the object's "custom.cf_…" keys by custom field id.
func (o obj) flatCustom() map[string]any {
	out := map[string]any{}
	for k, v := range o {
		if strings.HasPrefix(k, "custom.cf_") {
			out[strings.TrimPrefix(k, "custom.")] = v
		}
	}
	return out
}

func (o obj) nested() map[string]any {
	m, _ := o["custom"].(map[string]any)
	return m
}

func decodeExport(r io.Reader) ([]obj, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not a Close JSON lead export: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, errors.New("not a Close JSON lead export: expected a JSON array of leads")
	}
	var leads []obj
	for dec.More() {
		var l map[string]any
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("lead %d: %w", len(leads)+1, err)
		}
		if _, ok := l["id"].(string); !ok && l["id"] != nil {
			return nil, fmt.Errorf("lead %d: id is not a string", len(leads)+1)
		}
		leads = append(leads, obj(l))
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not a Close JSON lead export: %w", err)
	}
	return leads, nil
}

// inferType guesses a custom field's type from its values: all numbers →
// number, all YYYY-MM-DD → date, all other timestamps → datetime, all user
// ids → user, any list → multiple values (of users or choices), strings
// with a repeated value → choices, else text [INF: an export carries the
// values, not the field definitions].
func inferType(vals []any) (typ string, multiple bool) {
	allNum, allDate, allTime, allUser, any_ := true, true, true, true, false
	seen := map[string]int{}
	repeats := false
	str := func(x string) {
		if _, err := time.Parse("2006-01-02", x); err != nil {
			allDate = false
		}
		if _, err := parseCloseTime(x); err != nil || len(x) <= 10 {
			allTime = false
		}
		if !strings.HasPrefix(x, "user_") {
			allUser = false
		}
		seen[x]++
		if seen[x] > 1 {
			repeats = true
		}
	}
	for _, v := range vals {
		switch x := v.(type) {
		case nil:
			continue
		case json.Number:
			any_ = true
			allDate, allTime, allUser = false, false, false
		case string:
			if x == "" {
				continue
			}
			any_ = true
			allNum = false
			str(x)
		case []any:
			any_ = true
			multiple = true
			allNum, allDate, allTime = false, false, false
			for _, e := range x {
				s, ok := e.(string)
				if !ok || !strings.HasPrefix(s, "user_") {
					allUser = false
				}
			}
		default:
			any_ = true
			allNum, allDate, allTime, allUser = false, false, false, false
		}
	}
	switch {
	case !any_:
		return "text", false
	case allUser:
		return "user", multiple
	case multiple:
		return "choices", true
	case allNum:
		return "number", false
	case allDate:
		return "date", false
	case allTime:
		return "datetime", false
	case repeats && len(seen) <= 50:
		return "choices", false
	}
	return "text", false
}

// exportValue converts an exported value for a field of type typ: numbers
// to float64 for number fields, lists to []string.
func exportValue(v any, typ string) any {
	switch x := v.(type) {
	case json.Number:
		if typ == "number" {
			f, err := x.Float64()
			if err != nil {
				return nil
			}
			return f
		}
		return x.String()
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, fmt.Sprint(e))
		}
		return parts
	case string:
		if x == "" {
			return nil
		}
	}
	return v
}

func parseOrZero(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := parseCloseTime(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// cfCollector gathers the custom fields seen in an export.
type cfCollector struct {
	vals  map[string][]any
	kinds map[string]map[uni]bool
	votes map[string]map[string]int // id → nested name → votes
	named map[string]string         // nested name without flat field → made-up id
}

func (cc *cfCollector) see(u uni, o obj) {
	flat := o.flatCustom()
	for id, v := range flat {
		cc.vals[id] = append(cc.vals[id], v)
		if cc.kinds[id] == nil {
			cc.kinds[id] = map[uni]bool{}
		}
		cc.kinds[id][u] = true
		for name, nv := range o.nested() {
			if v != nil && fmt.Sprint(nv) == fmt.Sprint(v) {
				if cc.votes[id] == nil {
					cc.votes[id] = map[string]int{}
				}
				cc.votes[id][name]++
			}
		}
	}
}

// madeUpID is the id of a field the export names only in the nested dict:
// a Close-looking cf_ id derived from the name, the same on every load.
func madeUpID(name string) string {
	h := fnv.New64a()
	h.Write([]byte(name))
	return randID(rand.New(rand.NewPCG(h.Sum64(), 0xcf)), "cf_")
}

func buildFromExport(leads []obj, seed int64, now time.Time) (*store, error) {
	st := newStore(seed)
	r := rand.New(rand.NewPCG(uint64(seed), 0xe4b0))
	st.idRand = r
	st.orgName = "Sandbox copy of a Close export"
	for _, l := range leads {
		if id := l.str("organization_id"); id != "" {
			st.orgID = id
			break
		}
	}
	if st.orgID == "" {
		st.orgID = randID(r, "orga_")
	}
	start := now.AddDate(-3, 0, 0).Truncate(time.Second)
	st.addUser(&user{ID: randID(r, "user_"), FirstName: "Sandbox", LastName: "Rehearsal", Email: "rehearsal@sandbox.example", Created: start})

	// Metadata, in order of first appearance.
	addUser := func(id, name string) {
		if id == "" || !strings.HasPrefix(id, "user_") || st.userByID[id] != nil {
			return
		}
		first, last, _ := strings.Cut(name, " ")
		st.addUser(&user{ID: id, FirstName: first, LastName: last, Created: start})
	}
	pipes := map[string]bool{}
	actTypes := map[string]bool{}
	cc := &cfCollector{vals: map[string][]any{}, kinds: map[string]map[uni]bool{}, votes: map[string]map[string]int{}, named: map[string]string{}}
	for _, l := range leads {
		addUser(l.str("created_by"), l.str("created_by_name"))
		addUser(l.str("updated_by"), l.str("updated_by_name"))
		if id := l.str("status_id"); id != "" {
			if _, ok := st.statusByID[id]; !ok {
				st.addStatus(status{ID: id, Label: orStr(l.str("status_label"), id)})
			}
		}
		cc.see(uLead, l)
		for _, c := range l.list("contacts") {
			cc.see(uContact, c)
		}
		for _, o := range l.list("opportunities") {
			addUser(o.str("user_id"), o.str("user_name"))
			cc.see(uOpp, o)
			if p := o.str("pipeline_id"); p != "" && !pipes[p] {
				pipes[p] = true
				st.pipelines = append(st.pipelines, pipeline{ID: p, Name: orStr(o.str("pipeline_name"), p)})
			}
			if id := o.str("status_id"); id != "" {
				if _, ok := st.oppStatusByID[id]; !ok {
					st.addOppStatus(oppStatus{ID: id, Label: orStr(o.str("status_label"), id), Type: orStr(o.str("status_type"), "active"),
						PipelineID: o.str("pipeline_id")})
				}
			}
		}
		for _, k := range l.list("tasks") {
			addUser(k.str("assigned_to"), k.str("assigned_to_name"))
		}
		for _, a := range l.list("activities") {
			addUser(a.str("user_id"), a.str("user_name"))
			if id := a.str("custom_activity_type_id"); id != "" && !actTypes[id] {
				actTypes[id] = true
				st.actTypes = append(st.actTypes, namedType{ID: id, Name: orStr(a.str("custom_activity_type_name"), id)})
			}
		}
	}
	if len(st.statuses) == 0 {
		for _, lab := range statusLabels {
			st.addStatus(status{ID: randID(r, "stat_"), Label: lab})
		}
	}
	if len(st.oppStatuses) == 0 {
		st.addOppStatus(oppStatus{ID: randID(r, "stat_"), Label: "Active", Type: "active"})
	}
	// Nested names that no flat field carries become fields of their own.
	voted := map[string]bool{}
	for _, v := range cc.votes {
		for n := range v {
			voted[n] = true
		}
	}
	for _, l := range leads {
		for name, v := range l.nested() {
			if voted[name] {
				continue
			}
			id, ok := cc.named[name]
			if !ok {
				id = madeUpID(name)
				cc.named[name] = id
				cc.kinds[id] = map[uni]bool{uLead: true}
				cc.votes[id] = map[string]int{name: 1}
			}
			cc.vals[id] = append(cc.vals[id], v)
		}
	}
	for _, id := range sortedKeys(cc.vals) {
		typ, multi := inferType(cc.vals[id])
		name := id
		best := 0
		for _, n := range sortedKeys(cc.votes[id]) {
			if cc.votes[id][n] > best {
				name, best = n, cc.votes[id][n]
			}
		}
		cf := &customField{ID: id, Name: name, Type: typ, Multiple: multi, Created: start}
		if typ == "choices" {
			seen := map[string]bool{}
			for _, v := range cc.vals[id] {
				switch x := v.(type) {
				case []any:
					for _, e := range x {
						seen[fmt.Sprint(e)] = true
					}
				case string:
					if x != "" {
						seen[x] = true
					}
				}
			}
			cf.Choices = sortedKeys(seen)
		}
		var kinds []uni
		for _, u := range []uni{uLead, uContact, uOpp} {
			if cc.kinds[id][u] {
				kinds = append(kinds, u)
			}
		}
		st.addObjectCF(cf, kinds...)
	}

	typeOf := func(id string) string {
		if cf := st.cfByID[id]; cf != nil {
			return cf.Type
		}
		return ""
	}
	custom := func(o obj, nestedIDs bool) map[string]any {
		m := map[string]any{}
		for id, v := range o.flatCustom() {
			if x := exportValue(v, typeOf(id)); x != nil {
				m[id] = x
			}
		}
		if nestedIDs {
			for name, v := range o.nested() {
				if id, ok := cc.named[name]; ok {
					if x := exportValue(v, typeOf(id)); x != nil {
						m[id] = x
					}
				}
			}
		}
		return m
	}

	for n, l := range leads {
		sp := LeadSpec{ID: l.str("id"), Name: l.str("name"), Description: l.str("description"), URL: l.str("url"), Status: l.str("status_id"),
			CreatedBy: l.str("created_by"), UpdatedBy: l.str("updated_by"),
			DateCreated: l.time("date_created"), DateUpdated: l.time("date_updated"),
			LastCommunicationDate: l.time("last_communication_date"), Custom: custom(l, true)}
		if sp.Name == "" && l.str("display_name") != "" && len(l.list("contacts")) == 0 {
			sp.Name = l.str("display_name")
		}
		for _, c := range l.list("contacts") {
			cs := ContactSpec{ID: c.str("id"), Name: c.str("name"), Title: c.str("title"), DateCreated: c.time("date_created"),
				DateUpdated: c.time("date_updated"), Custom: custom(c, false)}
			for _, e := range c.list("emails") {
				cs.Emails = append(cs.Emails, EmailSpec{Email: e.str("email"), Type: e.str("type"), Unsubscribed: e.flag("is_unsubscribed")})
			}
			for _, p := range c.list("phones") {
				cs.Phones = append(cs.Phones, PhoneSpec{Phone: p.str("phone"), Type: p.str("type")})
			}
			for _, u := range c.list("urls") {
				cs.URLs = append(cs.URLs, URLSpec{URL: u.str("url"), Type: u.str("type")})
			}
			// Not in Close's documented export; kept when present [INF].
			for _, q := range c.list("sequence_subscriptions") {
				cs.Subscriptions = append(cs.Subscriptions, SubscriptionSpec{ID: q.str("id"), SequenceID: q.str("sequence_id"),
					Status: q.str("status"), DateCreated: q.time("date_created")})
			}
			sp.Contacts = append(sp.Contacts, cs)
		}
		for _, a := range l.list("addresses") {
			sp.Addresses = append(sp.Addresses, AddressSpec{Label: a.str("label"), Address1: a.str("address_1"), Address2: a.str("address_2"),
				City: a.str("city"), State: a.str("state"), Zipcode: a.str("zipcode"), Country: a.str("country")})
		}
		for _, o := range l.list("opportunities") {
			sp.Opportunities = append(sp.Opportunities, OpportunitySpec{ID: o.str("id"), Status: o.str("status_id"), User: o.str("user_id"),
				ContactID: o.str("contact_id"), Value: o.num("value"), ValuePeriod: o.str("value_period"),
				Currency: o.str("value_currency"), Confidence: o.num("confidence"), Note: o.str("note"),
				DateCreated: o.time("date_created"), DateUpdated: o.time("date_updated"), DateWon: o.time("date_won"),
				DateLost: o.time("date_lost"), CreatedBy: o.str("created_by"), Custom: custom(o, false)})
		}
		for _, k := range l.list("tasks") {
			due := k.time("date")
			if due.IsZero() {
				due = k.time("due_date")
			}
			sp.Tasks = append(sp.Tasks, TaskSpec{ID: k.str("id"), AssignedTo: k.str("assigned_to"), Text: k.str("text"),
				Complete: k.flag("is_complete"), Due: due, DateCreated: k.time("date_created"), DateUpdated: k.time("date_updated"),
				CreatedBy: k.str("created_by")})
		}
		for _, a := range l.list("activities") {
			typ := a.str("_type")
			if _, ok := activityKindOf(typ); !ok {
				continue // status changes, task completions, … are not modelled
			}
			text := a.str("text")
			if text == "" {
				text = a.str("note")
			}
			sp.Activities = append(sp.Activities, ActivitySpec{Type: typ, ID: a.str("id"), ContactID: a.str("contact_id"),
				User: a.str("user_id"), Direction: a.str("direction"), Status: a.str("status"), Subject: a.str("subject"),
				Sender: a.str("sender"), DateSent: a.time("date_sent"), HasReply: a.flag("has_reply"), Duration: a.num("duration"),
				Disposition: a.str("disposition"), Phone: a.str("phone"), Text: text, Title: a.str("title"),
				StartsAt: a.time("starts_at"), EndsAt: a.time("ends_at"), CustomTypeID: a.str("custom_activity_type_id"),
				DateCreated: a.time("date_created"), DateUpdated: a.time("date_updated"), CreatedBy: a.str("created_by")})
		}
		for _, o := range l.list("custom_objects") {
			sp.CustomObjects = append(sp.CustomObjects, CustomObjectSpec{ID: o.str("id"), TypeID: o.str("custom_object_type_id"),
				Name: o.str("name"), DateCreated: o.time("date_created"), DateUpdated: o.time("date_updated")})
		}
		in, err := st.resolve(&sp, now)
		if err != nil {
			return nil, fmt.Errorf("lead %d (%s): %w", n+1, sp.ID, err)
		}
		st.insertLead(in)
	}
	seedViews(st, now)
	return st, nil
}
