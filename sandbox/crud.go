package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// Writes to leads and contacts (docs/close-sandbox-api.md §1): POST
// creates, PUT is a partial update (only the fields sent change,
// docs/close-api.md §4.6), DELETE answers 200 {} and the object is gone
// (a second DELETE is a 404). Every write emits events.

// badFields collects field errors of one request body.
type badFields map[string]any

func (b badFields) add(field, msg string) { b[field] = msg }

// str reads an optional string (null reads as "").
func (b badFields) str(body map[string]json.RawMessage, key string) (string, bool) {
	raw, ok := body[key]
	if !ok || isNull(raw) {
		return "", ok
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		b.add(key, "Input should be a valid string")
		return "", false
	}
	return v, true
}

// text reads an optional string that may not be blank; a required one may
// not be missing either (its refusal replaces any other of the field).
func (b badFields) text(body map[string]json.RawMessage, key string, required bool) (string, bool) {
	v, ok := b.str(body, key)
	switch {
	case required && strings.TrimSpace(v) == "":
		b.add(key, "This field is required.")
	case ok && strings.TrimSpace(v) == "":
		b.add(key, "This field may not be blank.")
	}
	return v, ok
}

// found answers 404 unless ok.
func (c *call) found(ok bool) bool {
	if !ok {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
	}
	return ok
}

// created, updated and deleted record a write as an event; the caller
// holds mu for writing. An update's event names the fields that changed.
func (c *call) created(objectType, id, lead string, obj map[string]any) {
	c.s.logEvent(c.origin(), objectType, id, lead, "created", obj, nil, nil)
}

func (c *call) updated(objectType, id, lead string, before, after map[string]any) {
	changed, prev := diff(before, after)
	c.s.logEvent(c.origin(), objectType, id, lead, "updated", after, prev, changed)
}

// deleted also answers the delete (200 {}); the object belongs to no lead.
func (c *call) deleted(objectType, id string, before map[string]any) {
	c.s.logEvent(c.origin(), objectType, id, "", "deleted", nil, before, nil)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// parseEmails reads a contact's emails list.
func parseEmails(raw json.RawMessage, key string, bad badFields) []EmailSpec {
	var in []struct {
		Email        string `json:"email"`
		Type         string `json:"type"`
		Unsubscribed bool   `json:"is_unsubscribed"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		bad.add(key, "Input should be a list of {\"email\", \"type\"} objects")
		return nil
	}
	out := make([]EmailSpec, 0, len(in))
	for n, e := range in {
		if !strings.Contains(e.Email, "@") {
			bad.add(fmt.Sprintf("%s.%d.email", key, n), "Enter a valid email address.")
			continue
		}
		out = append(out, EmailSpec{Email: e.Email, Type: e.Type, Unsubscribed: e.Unsubscribed})
	}
	return out
}

func parsePhones(raw json.RawMessage, key string, bad badFields) []PhoneSpec {
	var in []struct {
		Phone string `json:"phone"`
		Type  string `json:"type"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		bad.add(key, "Input should be a list of {\"phone\", \"type\"} objects")
		return nil
	}
	out := make([]PhoneSpec, 0, len(in))
	for n, p := range in {
		if len(digitsOnly(p.Phone)) < 3 {
			bad.add(fmt.Sprintf("%s.%d.phone", key, n), "Invalid phone number.")
			continue
		}
		out = append(out, PhoneSpec{Phone: normalizePhone(p.Phone), Type: p.Type})
	}
	return out
}

func parseURLs(raw json.RawMessage, key string, bad badFields) []URLSpec {
	var in []struct {
		URL  string `json:"url"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		bad.add(key, "Input should be a list of {\"url\", \"type\"} objects")
		return nil
	}
	out := make([]URLSpec, 0, len(in))
	for _, u := range in {
		out = append(out, URLSpec{URL: u.URL, Type: u.Type})
	}
	return out
}

// normalizePhone writes a number as E.164 the way Close stores it: a
// leading + is kept, a bare 10-digit number is taken as North American
// [INF: Close guesses the country from the organization's settings].
func normalizePhone(p string) string {
	d := digitsOnly(p)
	switch {
	case strings.HasPrefix(strings.TrimSpace(p), "+"):
		return "+" + d
	case len(d) == 10:
		return "+1" + d
	case len(d) == 11 && d[0] == '1':
		return "+" + d
	}
	return "+" + d
}

// contactBody reads a contact object to create. prefix names the fields
// in errors ("contacts.0.").
func contactBody(body map[string]json.RawMessage, prefix string, bad badFields) ContactSpec {
	var cs ContactSpec
	sub := badFields{}
	if v, ok := sub.str(body, "name"); ok {
		cs.Name = v
	}
	if v, ok := sub.str(body, "title"); ok {
		cs.Title = v
	}
	if raw, ok := body["emails"]; ok && !isNull(raw) {
		cs.Emails = parseEmails(raw, "emails", sub)
	}
	if raw, ok := body["phones"]; ok && !isNull(raw) {
		cs.Phones = parsePhones(raw, "phones", sub)
	}
	if raw, ok := body["urls"]; ok && !isNull(raw) {
		cs.URLs = parseURLs(raw, "urls", sub)
	}
	for k, v := range sub {
		bad[prefix+k] = v
	}
	return cs
}

// addressList reads a lead's addresses.
func addressList(raw json.RawMessage, bad badFields) []AddressSpec {
	var in []struct {
		Label    string `json:"label"`
		Address1 string `json:"address_1"`
		Address2 string `json:"address_2"`
		City     string `json:"city"`
		State    string `json:"state"`
		Zipcode  string `json:"zipcode"`
		Country  string `json:"country"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		bad.add("addresses", "Input should be a list of address objects")
		return nil
	}
	out := make([]AddressSpec, 0, len(in))
	for _, a := range in {
		out = append(out, AddressSpec{Label: a.Label, Address1: a.Address1, Address2: a.Address2, City: a.City, State: a.State, Zipcode: a.Zipcode, Country: a.Country})
	}
	return out
}

// customValues reads the custom field values of a lead body: flat
// "custom.cf_…" keys, or the deprecated nested "custom" dict keyed by
// field name or id (docs/close-api.md §8.1). A null value clears.
func (st *store) customValues(body map[string]json.RawMessage, bad badFields) map[*customField]any {
	out := map[*customField]any{}
	set := func(key string, name string, raw json.RawMessage) {
		cf := st.customFieldByName(name)
		if cf == nil {
			bad.add(key, "Unknown custom field.")
			return
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			bad.add(key, "Invalid value.")
			return
		}
		if err := st.checkValue(cf, v); err != nil {
			bad.add(key, err.Error())
			return
		}
		out[cf] = v
	}
	for k, raw := range body {
		if strings.HasPrefix(k, "custom.") {
			set(k, strings.TrimPrefix(k, "custom."), raw)
		}
	}
	if raw, ok := body["custom"]; ok && !isNull(raw) {
		var dict map[string]json.RawMessage
		if err := json.Unmarshal(raw, &dict); err != nil {
			bad.add("custom", "Input should be an object")
		}
		for name, v := range dict {
			set("custom."+name, name, v)
		}
	}
	return out
}

// checkValue reports whether v fits custom field cf.
func (st *store) checkValue(cf *customField, v any) error {
	if v == nil {
		return nil
	}
	// A contact or opportunity field has no lead column (cf.col); its type is the same in
	// every column it has.
	src := cf.col
	for _, c := range cf.cols {
		if src == nil && c != nil {
			src = c
		}
	}
	if src == nil {
		return fmt.Errorf("%s belongs to no object", cf.Name)
	}
	tmp := &column{name: src.name, kind: src.kind, dateOnly: src.dateOnly, multi: src.multi}
	if list, ok := v.([]any); ok && !cf.Multiple {
		return fmt.Errorf("%s accepts one value, got a list", cf.Name)
	} else if ok && cf.Type == "choices" {
		for _, e := range list {
			if !slices.Contains(cf.Choices, fmt.Sprint(e)) {
				return fmt.Errorf("%q is not one of the choices of %s", fmt.Sprint(e), cf.Name)
			}
		}
	}
	if s, ok := v.(string); ok && cf.Type == "choices" && !slices.Contains(cf.Choices, s) {
		return fmt.Errorf("%q is not one of the choices of %s", s, cf.Name)
	}
	if err := (&store{dict: map[string]uint32{}, sharedTok: map[string]span{}}).appendValue(tmp, v); err != nil {
		return fmt.Errorf("invalid value for %s (a %s field)", cf.Name, cf.Type)
	}
	return nil
}

// statusFromBody resolves status_id (or the deprecated status label).
func (st *store) statusFromBody(body map[string]json.RawMessage, bad badFields) (int, bool) {
	if id, ok := bad.str(body, "status_id"); ok && id != "" {
		if i, ok := st.statusByID[id]; ok {
			return i, true
		}
		bad.add("status_id", "Lead status does not exist.")
		return 0, false
	}
	if label, ok := bad.str(body, "status"); ok && label != "" {
		if s, ok := st.statusByLabel(label); ok {
			return st.statusByID[s.ID], true
		}
		bad.add("status", "Lead status does not exist.")
	}
	return 0, false
}

// createLead is POST /lead/ with nested contacts and addresses.
func (c *call) createLead(string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	bad := badFields{}
	sp := LeadSpec{Custom: map[string]any{}}
	sp.Name, _ = bad.str(body, "name")
	sp.Description, _ = bad.str(body, "description")
	sp.URL, _ = bad.str(body, "url")
	if i, ok := st.statusFromBody(body, bad); ok {
		sp.Status = st.statuses[i].ID
	}
	for cf, v := range st.customValues(body, bad) {
		sp.Custom[cf.ID] = v
	}
	if raw, ok := body["contacts"]; ok && !isNull(raw) {
		var list []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			bad.add("contacts", "Input should be a list of contact objects")
		}
		for n, cb := range list {
			sp.Contacts = append(sp.Contacts, contactBody(cb, fmt.Sprintf("contacts.%d.", n), bad))
		}
	}
	if raw, ok := body["addresses"]; ok && !isNull(raw) {
		sp.Addresses = addressList(raw, bad)
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	sp.CreatedBy = c.user.ID
	in, err := st.resolve(&sp, s.now())
	if err != nil {
		fieldError(c.w, "lead", err.Error())
		return
	}
	li := st.insertLead(in)
	obj := st.leadJSON(li)
	for _, ci := range st.liveKids(uLead, li, uContact) {
		c.created("contact", st.t[uContact].ids[ci], st.t[uLead].ids[li], st.contactJSON(ci))
	}
	c.created("lead", st.t[uLead].ids[li], st.t[uLead].ids[li], obj)
	writeJSON(c.w, http.StatusOK, c.leadFields(obj))
}

// liveIndex is the index of the existing object of kind u with this id;
// ok is false (and a 404 answered) when there is none.
func (c *call) liveIndex(u uni, id string) (int, bool) {
	t := c.s.st.t[u]
	i, ok := t.byID[id]
	return int(i), c.found(ok && t.dead[i] == 0)
}

// updateLead is PUT /lead/{id}/: name, description, url, status, custom
// fields (null clears) and addresses (the list replaces the old one).
// Contacts change through the Contacts API [INF].
func (c *call) updateLead(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	li, ok := c.liveIndex(uLead, id)
	if !ok {
		return
	}
	bad := badFields{}
	if _, ok := body["contacts"]; ok {
		bad.add("contacts", "Contacts are changed with the Contacts API (/contact/), not on the lead.")
	}
	status, hasStatus := st.statusFromBody(body, bad)
	custom := st.customValues(body, bad)
	var addrs []AddressSpec
	_, hasAddrs := body["addresses"]
	if hasAddrs && !isNull(body["addresses"]) {
		addrs = addressList(body["addresses"], bad)
	}
	texts := map[string]string{}
	for _, f := range []string{"name", "description", "url"} {
		if v, ok := bad.str(body, f); ok {
			texts[f] = v
		}
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := st.leadJSON(li)
	if hasAddrs {
		st.replaceAddresses(li, addrs)
	}
	cols := st.t[uLead].cols
	for f, v := range texts {
		st.setText(cols[f], li, v)
	}
	if hasStatus {
		cols["status_id"].str[li] = st.statuses[status].ID
		st.setText(cols["status_label"], li, st.statuses[status].Label)
	}
	for cf, v := range custom {
		// checkValue has accepted v, so it parses.
		_ = st.setValue(cf.col, li, v)
	}
	now := s.now()
	cols["date_updated"].tm[li] = now.UnixMicro()
	cols["updated_by"].str[li] = c.user.ID
	st.refreshLead(li)
	after := st.leadJSON(li)
	c.updated("lead", id, id, before, after)
	writeJSON(c.w, http.StatusOK, c.leadFields(after))
}

// diff lists the top-level fields whose values differ (sorted, without the
// bookkeeping dates) and their previous values.
func diff(before, after map[string]any) ([]string, map[string]any) {
	var changed []string
	prev := map[string]any{}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range keys {
		if k == "date_updated" || k == "updated_by" || k == "updated_by_name" {
			continue
		}
		b, _ := json.Marshal(before[k])
		a, _ := json.Marshal(after[k])
		if !bytes.Equal(a, b) {
			changed = append(changed, k)
			prev[k] = before[k]
		}
	}
	sort.Strings(changed)
	return changed, prev
}

// deleteLead is DELETE /lead/{id}/: the lead with its contacts and
// everything else it owns; 200 {} then 404 (docs/close-api.md §8.4).
func (c *call) deleteLead(id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	li, ok := c.liveIndex(uLead, id)
	if !ok {
		return
	}
	s.deleting(c.origin(), func(at int64) { s.st.deleteLead(li, at) })
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// listContacts is GET /contact/, as the graph resources' lists.
func (c *call) listContacts(string) { c.listGraph(uContact) }

// createContact is POST /contact/. Without a lead_id Close makes a new lead
// for the contact, named after it [DOC changelog 2025-02-14].
func (c *call) createContact(string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	bad := badFields{}
	leadID, _ := bad.str(body, "lead_id")
	cs := contactBody(body, "", bad)
	li := -1
	if leadID != "" {
		i, ok := st.t[uLead].byID[leadID]
		if !ok || st.t[uLead].dead[i] != 0 {
			bad.add("lead_id", "Lead does not exist.")
		}
		li = int(i)
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	c.origin() // drawn before the create can still fail, as in createGraph
	var ci int
	if li < 0 {
		// "named after the contact" (Close changelog 2025-02-14 [DOC]).
		in, err := st.resolve(&LeadSpec{Name: cs.Name, CreatedBy: c.user.ID, Contacts: []ContactSpec{cs}}, s.now())
		if err != nil {
			fieldError(c.w, "contact", err.Error())
			return
		}
		li = st.insertLead(in)
		ci = st.liveKids(uLead, li, uContact)[0]
		c.created("lead", st.t[uLead].ids[li], st.t[uLead].ids[li], st.leadJSON(li))
	} else {
		if cs.DateCreated.IsZero() {
			cs.DateCreated = s.now()
		}
		ci = st.addContact(li, &cs, c.user.ID)
		st.refreshLead(li)
	}
	obj := st.contactJSON(ci)
	c.created("contact", st.t[uContact].ids[ci], st.leadOf(uContact, ci), obj)
	writeJSON(c.w, http.StatusOK, c.selectFields(obj))
}

// updateContact is PUT /contact/{id}/: name, title, and emails, phones or
// urls (each list replaces the old one).
func (c *call) updateContact(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	ci, ok := c.liveIndex(uContact, id)
	if !ok {
		return
	}
	ct := st.t[uContact]
	bad := badFields{}
	if v, ok := bad.str(body, "lead_id"); ok && v != ct.cols["lead_id"].str[ci] {
		bad.add("lead_id", "The sandbox does not move contacts between leads.")
	}
	texts := map[string]string{}
	for _, f := range []string{"name", "title"} {
		if v, ok := bad.str(body, f); ok {
			texts[f] = v
		}
	}
	var emails []EmailSpec
	var phones []PhoneSpec
	var urls []URLSpec
	rawE, hasE := body["emails"]
	if hasE {
		emails = parseEmails(rawE, "emails", bad)
	}
	rawP, hasP := body["phones"]
	if hasP {
		phones = parsePhones(rawP, "phones", bad)
	}
	rawU, hasU := body["urls"]
	if hasU {
		urls = parseURLs(rawU, "urls", bad)
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := st.contactJSON(ci)
	for f, v := range texts {
		st.setText(ct.cols[f], ci, v)
	}
	if hasE {
		st.replaceEmails(ci, emails)
	}
	if hasP {
		st.replacePhones(ci, phones)
	}
	if hasU {
		st.replaceURLs(ci, urls)
	}
	ct.cols["date_updated"].tm[ci] = s.now().UnixMicro()
	ct.cols["updated_by"].str[ci] = c.user.ID
	st.refreshContact(ci)
	st.refreshLead(int(ct.parent[ci]))
	after := st.contactJSON(ci)
	c.updated("contact", id, st.leadOf(uContact, ci), before, after)
	writeJSON(c.w, http.StatusOK, c.selectFields(after))
}

// deleteContact is DELETE /contact/{id}/.
func (c *call) deleteContact(id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ci, ok := c.liveIndex(uContact, id)
	if !ok {
		return
	}
	s.deleting(c.origin(), func(at int64) { s.st.deleteObject(uContact, ci, at, "") })
	s.st.refreshLead(int(s.st.t[uContact].parent[ci]))
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// leadFields applies _fields to a lead, with Close's two special values:
// `custom` (every custom field) and `_all` (every field and the Smart
// Fields, docs/close-api.md §4.6 [DOC]).
func (c *call) leadFields(obj map[string]any) map[string]any {
	f := c.r.URL.Query().Get("_fields")
	if f == "" {
		return obj
	}
	out := map[string]any{}
	for _, k := range strings.Split(f, ",") {
		switch k = strings.TrimSpace(k); k {
		case "_all":
			for k, v := range obj {
				out[k] = v
			}
			for k, v := range c.s.st.smartFields(obj) {
				out[k] = v
			}
		case "custom":
			for _, cf := range c.s.st.cfs {
				out["custom."+cf.ID] = obj["custom."+cf.ID]
			}
		default:
			if v, ok := obj[k]; ok {
				out[k] = v
			} else if v, ok := c.s.st.smartFields(obj)[k]; ok {
				out[k] = v
			}
		}
	}
	return out
}

// smartFields are the lead's calculated fields (Close's Smart Fields):
// the roll-ups the sandbox evaluates in queries (rollups.go), by their
// filter names [DOC names; which of them Close shows as Smart Fields is
// INF].
func (st *store) smartFields(obj map[string]any) map[string]any {
	id, _ := obj["id"].(string)
	i, ok := st.t[uLead].byID[id]
	if !ok {
		return nil
	}
	out := map[string]any{}
	for _, name := range sortedKeys(rollups) {
		if c, ok := st.derivedCol(uLead, name); ok {
			out[name] = c.value(int(i))
		}
	}
	return out
}
