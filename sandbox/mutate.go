package sandbox

// Changing stored objects through the API. Scalar fields are overwritten
// in their columns (setValue). A child added to an existing object gets a
// new row, linked to its owner after the run it was inserted with
// (kidsMore, graph.go). A list that an update replaces (a contact's emails,
// a lead's addresses) retires the old rows and adds new ones.

// retiredAt is the deletion time of a row an update replaced: the epoch,
// so that index lag never shows it, and distinct from a real deletion (no
// event, no cascade hook).
const retiredAt = 1

// link records row i of kind k as a child of parent, as addRow does for
// the rows it makes (insertContact makes its own).
func (st *store) link(k uni, parent, i int) {
	pt := st.t[uniParent[k]]
	st.padKids(pt)
	s := &pt.kids[k][parent]
	more := pt.kidsMore[k][int32(parent)]
	switch {
	case s.n == 0 && len(more) == 0:
		s.off, s.n = uint32(i), 1
	case int(s.off+s.n) == i && len(more) == 0:
		s.n++
	default:
		if pt.kidsMore[k] == nil {
			pt.kidsMore[k] = map[int32][]int32{}
		}
		pt.kidsMore[k][int32(parent)] = append(more, int32(i))
	}
	st.gen++
}

// retire marks object i of kind u and its live descendants as replaced.
func (st *store) retire(u uni, i int) {
	t := st.t[u]
	if t.dead[i] != 0 {
		return
	}
	t.dead[i] = retiredAt
	t.live--
	st.gen++
	for k := range numUni {
		if t.kids[k] == nil {
			continue
		}
		for j := range st.children(u, i, k) {
			st.retire(k, j)
		}
	}
}

// liveKids lists the live children of kind k of object i of kind u.
func (st *store) liveKids(u uni, i int, k uni) []int {
	var out []int
	for j := range st.children(u, i, k) {
		if st.t[k].dead[j] == 0 {
			out = append(out, j)
		}
	}
	return out
}

func (st *store) retireKids(u uni, i int, k uni) {
	for _, j := range st.liveKids(u, i, k) {
		st.retire(k, j)
	}
}

func (st *store) setText(c *column, i int, v string) {
	// A string always fits a text column.
	_ = st.setValue(c, i, v)
}

// replaceEmails sets contact ci's emails.
func (st *store) replaceEmails(ci int, emails []EmailSpec) {
	st.retireKids(uContact, ci, uEmail)
	et := st.t[uEmail]
	for _, e := range emails {
		st.addRow(uEmail, ci, "")
		st.putText(et, "email", e.Email)
		st.putText(et, "type", orStr(e.Type, "office"))
		st.putBool(et, "is_unsubscribed", e.Unsubscribed)
		st.padRow(et)
	}
	st.t[uContact].cols["emails_count"].num[ci] = float64(len(emails))
}

// replacePhones sets contact ci's phone numbers.
func (st *store) replacePhones(ci int, phones []PhoneSpec) {
	st.retireKids(uContact, ci, uPhone)
	pt := st.t[uPhone]
	for _, p := range phones {
		st.addRow(uPhone, ci, "")
		st.appendTextTok(pt.cols["phone"], p.Phone, formatPhone(p.Phone))
		st.putText(pt, "type", orStr(p.Type, "office"))
		st.padRow(pt)
	}
	st.t[uContact].cols["phones_count"].num[ci] = float64(len(phones))
}

// replaceURLs sets contact ci's urls.
func (st *store) replaceURLs(ci int, urls []URLSpec) {
	st.retireKids(uContact, ci, uURL)
	ut := st.t[uURL]
	for _, u := range urls {
		st.addRow(uURL, ci, "")
		st.putText(ut, "url", u.URL)
		st.putText(ut, "type", orStr(u.Type, "url"))
		st.padRow(ut)
	}
	st.t[uContact].cols["urls_count"].num[ci] = float64(len(urls))
}

// replaceAddresses sets lead li's addresses.
func (st *store) replaceAddresses(li int, addrs []AddressSpec) {
	st.retireKids(uLead, li, uAddress)
	at := st.t[uAddress]
	for n := range addrs {
		a := &addrs[n]
		st.addRow(uAddress, li, "")
		st.putText(at, "label", orStr(a.Label, "business"))
		st.putText(at, "address_1", a.Address1)
		st.putText(at, "address_2", a.Address2)
		st.putText(at, "city", a.City)
		st.putText(at, "state", a.State)
		st.putText(at, "zipcode", a.Zipcode)
		st.putText(at, "country", a.Country)
		st.putText(at, "location", a.location())
		st.padRow(at)
	}
}

// addContact adds a contact to existing lead li and returns its index.
func (st *store) addContact(li int, cs *ContactSpec, creator string) int {
	lt, ct := st.t[uLead], st.t[uContact]
	ci := ct.n()
	st.insertContact(cs, li, lt.ids[li], creator, creator, lt.cols["date_created"].tm[li])
	st.link(uContact, li, ci)
	return ci
}

// refreshLead recomputes what a lead derives from its children: its
// display name (a nameless lead is shown by its first contact) and its
// address count.
func (st *store) refreshLead(li int) {
	c := st.t[uLead].cols
	display := c["name"].str[li]
	if display == "" {
		if cs := st.liveKids(uLead, li, uContact); len(cs) > 0 {
			display = st.t[uContact].cols["display_name"].str[cs[0]]
		}
	}
	st.setText(c["display_name"], li, display)
	c["addresses_count"].num[li] = float64(len(st.liveKids(uLead, li, uAddress)))
}

// refreshContact recomputes a contact's display name (its name, else its
// first email).
func (st *store) refreshContact(ci int) {
	c := st.t[uContact].cols
	display := c["name"].str[ci]
	if display == "" {
		if es := st.liveKids(uContact, ci, uEmail); len(es) > 0 {
			display = st.t[uEmail].cols["email"].str[es[0]]
		}
	}
	st.setText(c["display_name"], ci, display)
}
