package sandbox

import (
	"fmt"
	"slices"
	"time"
)

// Changing stored objects in place. Scalar fields are overwritten in their
// columns. A change to the set of an object's children (a new contact on a
// lead, new emails on a contact, replaced addresses) cannot be made in
// place, because children are stored as one contiguous run per owner; the
// owner is then moved: its row and every live descendant are copied to the
// end of their tables under the same ids, with the change applied on the
// way, and the old rows are retired.

// retiredAt is the deletion time of a retired (moved) row: the epoch, so
// that index lag never shows it, while it stays distinct from real
// deletions (an event's previous_data names the instant of its deletion).
const retiredAt = 1

// mover moves one object with its descendants.
type mover struct {
	st *store
	// skip reports whether live child j of kind k is left behind (it is
	// retired, not copied): a replaced contact, replaced addresses.
	skip func(k uni, j int) bool
	// add appends further children of kind k under new parent p (of kind
	// pu, moved from old index i), after the copied ones.
	add func(pu uni, i int, k uni, p int)
}

// move copies object i of kind u under parent p and returns its new index.
func (m *mover) move(u uni, i int, p int32) int {
	st := m.st
	t := st.t[u]
	ni := t.n()
	var spans [numUni]span
	for k := range numUni {
		if t.kids[k] == nil {
			continue
		}
		kt := st.t[k]
		start := kt.n()
		sp := t.kids[k][i]
		for j := int(sp.off); j < int(sp.off+sp.n); j++ {
			if kt.dead[j] != 0 {
				continue
			}
			if m.skip != nil && m.skip(k, j) {
				st.retire(k, j)
				continue
			}
			m.move(k, j, int32(ni))
		}
		if m.add != nil {
			m.add(u, i, k, ni)
		}
		spans[k] = span{uint32(start), uint32(kt.n() - start)}
	}
	t.ids = append(t.ids, t.ids[i])
	if id := t.ids[i]; id != "" {
		t.byID[id] = int32(ni)
	}
	t.parent = append(t.parent, p)
	t.dead = append(t.dead, 0)
	t.live++
	for k := range numUni {
		if t.kids[k] != nil {
			t.kids[k] = append(t.kids[k], spans[k])
		}
	}
	for _, c := range t.order {
		c.copyRow(i)
	}
	t.dead[i] = retiredAt
	t.live--
	return ni
}

// retire marks object i of kind u and its live descendants as moved away.
func (st *store) retire(u uni, i int) {
	t := st.t[u]
	if t.dead[i] != 0 {
		return
	}
	t.dead[i] = retiredAt
	t.live--
	for k := range numUni {
		if t.kids[k] == nil {
			continue
		}
		sp := t.kids[k][i]
		for j := int(sp.off); j < int(sp.off+sp.n); j++ {
			st.retire(k, j)
		}
	}
}

// copyRow appends a copy of row i (token spans are shared: the arena only
// grows).
func (c *column) copyRow(i int) {
	switch c.kind {
	case kText:
		c.str = append(c.str, c.str[i])
		c.tok = append(c.tok, c.tok[i])
	case kRef:
		c.str = append(c.str, c.str[i])
	case kDate:
		c.tm = append(c.tm, c.tm[i])
	case kNumber:
		c.num = append(c.num, c.num[i])
	case kBool:
		c.bl = append(c.bl, c.bl[i])
	}
}

// current is the index an object now lives at: its row may have moved
// since i was taken (by a job's match set, say).
func (st *store) current(u uni, i int) int {
	t := st.t[u]
	if t.dead[i] == retiredAt && t.ids[i] != "" {
		if ni, ok := t.byID[t.ids[i]]; ok {
			return int(ni)
		}
	}
	return i
}

// setValue overwrites row i of c with v, parsed as appendValue parses it.
func (st *store) setValue(c *column, i int, v any) error {
	tmp := &column{name: c.name, kind: c.kind, shared: c.shared, phone: c.phone, multi: c.multi, dateOnly: c.dateOnly}
	if err := st.appendValue(tmp, v); err != nil {
		return err
	}
	switch c.kind {
	case kText:
		c.str[i], c.tok[i] = tmp.str[0], tmp.tok[0]
	case kRef:
		c.str[i] = tmp.str[0]
	case kDate:
		c.tm[i] = tmp.tm[0]
	case kNumber:
		c.num[i] = tmp.num[0]
	case kBool:
		c.bl[i] = tmp.bl[0]
	}
	return nil
}

func (st *store) setText(c *column, i int, v string) {
	// A text value always parses.
	_ = st.setValue(c, i, v)
}

// appendAddress adds one address row under lead li (as insertLead does).
func (st *store) appendAddress(li int, a *AddressSpec) {
	at := st.t[uAddress]
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
	// Every other table with address children would need its span too;
	// only leads own addresses.
	for k := range numUni {
		if at.kids[k] != nil {
			at.kids[k] = append(at.kids[k], span{uint32(st.t[k].n()), 0})
		}
	}
}

// liveKids lists the live children of kind k of object i of kind u.
func (st *store) liveKids(u uni, i int, k uni) []int {
	sp := st.t[u].kids[k][i]
	var out []int
	for j := int(sp.off); j < int(sp.off+sp.n); j++ {
		if st.t[k].dead[j] == 0 {
			out = append(out, j)
		}
	}
	return out
}

// refreshLead recomputes what a lead derives from its children: its
// display name (a nameless lead is shown by its first contact) and its
// address count.
func (st *store) refreshLead(li int) {
	lt := st.t[uLead]
	c := lt.cols
	if c["name"].str[li] == "" {
		display := ""
		if cs := st.liveKids(uLead, li, uContact); len(cs) > 0 {
			display = st.t[uContact].cols["display_name"].str[cs[0]]
		}
		st.setText(c["display_name"], li, display)
	} else {
		st.setText(c["display_name"], li, c["name"].str[li])
	}
	c["addresses_count"].num[li] = float64(len(st.liveKids(uLead, li, uAddress)))
}

// contactSpec rebuilds the spec of stored contact ci.
func (st *store) contactSpec(ci int) ContactSpec {
	ct := st.t[uContact]
	c := ct.cols
	cs := ContactSpec{ID: ct.ids[ci], Name: c["name"].str[ci], Title: c["title"].str[ci],
		DateCreated: time.UnixMicro(c["date_created"].tm[ci]).UTC(), DateUpdated: time.UnixMicro(c["date_updated"].tm[ci]).UTC()}
	ec, pc := st.t[uEmail].cols, st.t[uPhone].cols
	for _, j := range st.liveKids(uContact, ci, uEmail) {
		cs.Emails = append(cs.Emails, EmailSpec{Email: ec["email"].str[j], Type: ec["type"].str[j], Unsubscribed: ec["is_unsubscribed"].bl[j] == 1})
	}
	for _, j := range st.liveKids(uContact, ci, uPhone) {
		cs.Phones = append(cs.Phones, PhoneSpec{Phone: pc["phone"].str[j], Type: pc["type"].str[j]})
	}
	return cs
}

// moveLead moves lead li (see mover) and refreshes what it derives.
func (st *store) moveLead(li int, m *mover) int {
	m.st = st
	ni := m.move(uLead, li, -1)
	st.refreshLead(ni)
	return ni
}

// addContact adds a contact to an existing lead; it returns the lead's and
// the contact's new indexes.
func (st *store) addContact(li int, cs *ContactSpec, creator string) (int, int) {
	lt := st.t[uLead]
	if _, dup := st.t[uContact].byID[cs.ID]; cs.ID != "" && dup {
		panic(fmt.Sprintf("contact %s already exists", cs.ID))
	}
	created := lt.cols["date_created"].tm[li]
	ci := -1
	ni := st.moveLead(li, &mover{add: func(pu uni, _ int, k uni, p int) {
		if pu == uLead && k == uContact {
			ci = st.t[uContact].n()
			st.insertContact(cs, p, lt.ids[li], creator, creator, created)
		}
	}})
	return ni, ci
}

// replaceContact rewrites contact ci from spec (same id) inside its lead.
func (st *store) replaceContact(ci int, cs *ContactSpec, creator, updater string) (int, int) {
	lt, ct := st.t[uLead], st.t[uContact]
	li := int(ct.parent[ci])
	created := lt.cols["date_created"].tm[li]
	nci := -1
	skipped := false
	ni := st.moveLead(li, &mover{
		skip: func(k uni, j int) bool { return k == uContact && j == ci },
		add: func(pu uni, _ int, k uni, p int) {
			if pu == uLead && k == uContact && !skipped {
				skipped = true
				nci = ct.n()
				st.insertContact(cs, p, lt.ids[li], creator, updater, created)
			}
		}})
	return ni, nci
}

// replaceAddresses sets lead li's addresses.
func (st *store) replaceAddresses(li int, addrs []AddressSpec) int {
	return st.moveLead(li, &mover{
		skip: func(k uni, _ int) bool { return k == uAddress },
		add: func(pu uni, _ int, k uni, p int) {
			if pu == uLead && k == uAddress {
				for a := range addrs {
					st.appendAddress(p, &addrs[a])
				}
			}
		}})
}

// removeCustomField drops a lead custom field and its column.
func (st *store) removeCustomField(cf *customField) {
	lt := st.t[uLead]
	delete(lt.cols, cf.col.name)
	lt.order = slices.DeleteFunc(lt.order, func(c *column) bool { return c == cf.col })
	st.cfs = slices.DeleteFunc(st.cfs, func(c *customField) bool { return c == cf })
	delete(st.cfByID, cf.ID)
}
