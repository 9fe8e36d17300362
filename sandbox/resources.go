package sandbox

import (
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"time"
)

// smartView is a saved search (docs/close-api.md §5.2). SQuery is the
// {query, results_limit, sort} wrapper, or nil for a legacy string view.
type smartView struct {
	ID, Name, Type  string
	SQuery          json.RawMessage
	Query           *string
	IsShared        bool
	IsUserDependent *bool
	UserID          *string
	Description     *string
	Created         time.Time
}

func (st *store) addView(v *smartView) {
	st.views = append(st.views, v)
	st.viewByID[v.ID] = v
}

func strPtr(s string) *string { return &s }

func (st *store) viewJSON(v *smartView) map[string]any {
	var sq any
	if v.SQuery != nil {
		sq = v.SQuery
	}
	return map[string]any{
		"id": v.ID, "name": v.Name, "type": v.Type, "s_query": sq, "query": v.Query,
		"is_shared": v.IsShared, "is_user_dependent": v.IsUserDependent, "organization_id": st.orgID,
		"user_id": v.UserID, "description": v.Description,
		"date_created": fmtTime(v.Created), "date_updated": fmtTime(v.Created),
		"selected_fields": nil, "shared_with": nil, "sharing_settings": nil,
	}
}

func (st *store) userJSON(u *user) map[string]any {
	return map[string]any{
		"id": u.ID, "first_name": u.FirstName, "last_name": u.LastName, "email": u.Email, "image": nil,
		"date_created": fmtTime(u.Created), "date_updated": fmtTime(u.Created),
		"organizations": []any{map[string]any{"id": st.orgID, "name": st.orgName}},
	}
}

func (c *call) me(string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	obj := c.s.st.userJSON(c.user)
	obj["last_used_timezone"] = "UTC"
	writeJSON(c.w, http.StatusOK, c.selectFields(obj))
}

func (c *call) users(string) {
	limit, skip, ok := c.page(1, 0, 0)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	var data []any
	us := c.s.st.users
	for i := skip; i < len(us) && i < skip+limit; i++ {
		data = append(data, c.selectFields(c.s.st.userJSON(us[i])))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": orEmpty(data), "has_more": skip+limit < len(us)})
}

func (c *call) userByID(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	u := c.s.st.userByID[id]
	if u == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.st.userJSON(u)))
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}

// statuses answers GET /status/lead/: everything at once, with has_more
// false and each status's color (null unless set), as the reference shows
// it (docs/close-sandbox-api.md §1 [DOC]).
func (c *call) statuses(string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	data := []any{}
	for _, s := range c.s.st.statuses {
		data = append(data, c.s.leadStatusJSON(s))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": false})
}

func (c *call) customFields(string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	data := []any{}
	for _, cf := range c.s.st.cfs {
		obj := map[string]any{
			"id": cf.ID, "name": cf.Name, "type": cf.Type, "description": nil,
			"accepts_multiple_values": cf.Multiple, "organization_id": c.s.st.orgID,
			"date_created": fmtTime(cf.Created), "date_updated": fmtTime(cf.Created),
			"created_by": c.s.st.users[0].ID, "updated_by": c.s.st.users[0].ID,
		}
		if cf.Type == "choices" {
			obj["choices"] = cf.Choices
		}
		data = append(data, c.selectFields(obj))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": false})
}

// savedSearches answers GET /saved_search/ with _limit/_skip and the type
// filter (default lead, docs/close-api.md §5.1).
func (c *call) savedSearches(string) {
	limit, skip, ok := c.page(1, 0, 0)
	if !ok {
		return
	}
	q := c.r.URL.Query()
	types := map[string]bool{}
	if t := q.Get("type__in"); t != "" {
		for _, x := range strings.Split(t, ",") {
			types[strings.TrimSpace(x)] = true
		}
	} else if t := q.Get("type"); t != "" {
		types[t] = true
	} else {
		types["lead"] = true
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	var match []*smartView
	for _, v := range c.s.st.views {
		if types[v.Type] {
			match = append(match, v)
		}
	}
	data := []any{}
	for i := skip; i < len(match) && i < skip+limit; i++ {
		data = append(data, c.selectFields(c.s.st.viewJSON(match[i])))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": skip+limit < len(match)})
}

func (c *call) savedSearch(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	v := c.s.st.viewByID[id]
	if v == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.st.viewJSON(v)))
}

// leads answers GET /lead/: existing leads in insertion order, _limit at
// most 200 and _skip at most 35,000 as observed on Close (docs/close-api.md §4.5).
func (c *call) leads(string) {
	limit, skip, ok := c.page(0, 200, 35000)
	if !ok {
		return
	}
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	lt := c.s.st.t[uLead]
	data := []any{}
	seen, more := 0, false
	for i, d := range lt.dead {
		if d != 0 {
			continue
		}
		if seen >= skip+limit {
			more = true
			break
		}
		if seen >= skip {
			data = append(data, c.leadFields(c.s.st.leadJSON(i)))
		}
		seen++
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": more})
}

func (c *call) lead(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	if i, ok := c.liveIndex(uLead, id); ok {
		writeJSON(c.w, http.StatusOK, c.leadFields(c.s.st.leadJSON(i)))
	}
}

func (c *call) contact(id string) { c.object(uContact, id, (*store).contactJSON) }

// object answers GET of one existing object of table u by id, rendered by
// render (under the read lock); a deleted or unknown id is a 404.
func (c *call) object(u uni, id string, render func(st *store, i int) map[string]any) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	t := c.s.st.t[u]
	i, ok := t.byID[id]
	if !ok || t.dead[i] != 0 {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(render(c.s.st, int(i))))
}

// --- rendering objects ---------------------------------------------------------

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// value is a column's value for output.
func (c *column) value(i int) any {
	switch c.kind {
	case kText, kRef:
		if c.multi && c.str[i] != "" {
			// a multi-value field stays a list
			return strings.Split(c.str[i], multiSep)
		}
		return nullStr(c.str[i])
	case kDate:
		if c.dateOnly && c.tm[i] != noTime {
			return time.UnixMicro(c.tm[i]).UTC().Format("2006-01-02")
		}
		return fmtMicros(c.tm[i])
	case kNumber:
		if math.IsNaN(c.num[i]) {
			return nil
		}
		return c.num[i]
	case kBool:
		if c.bl[i] < 0 {
			return nil
		}
		return c.bl[i] == 1
	}
	return nil
}

func (st *store) userName(id string) any {
	if u := st.userByID[id]; u != nil {
		return u.name()
	}
	return nil
}

// leadJSON is the lead as GET /lead/{id}/ shows it (docs/close-api.md §8.1),
// custom fields as flat custom.cf_… keys.
func (st *store) leadJSON(i int) map[string]any {
	lt := st.t[uLead]
	c := lt.cols
	obj := map[string]any{
		"id": lt.ids[i], "organization_id": st.orgID,
		"html_url": "https://app.close.com/lead/" + lt.ids[i] + "/",
		"name":     c["name"].value(i), "display_name": c["display_name"].str[i],
		"description": c["description"].value(i), "url": c["url"].value(i),
		"status_id": c["status_id"].value(i), "status_label": c["status_label"].value(i),
		"created_by": c["created_by"].value(i), "updated_by": c["updated_by"].value(i),
		"created_by_name": st.userName(c["created_by"].str[i]), "updated_by_name": st.userName(c["updated_by"].str[i]),
		"date_created": c["date_created"].value(i), "date_updated": c["date_updated"].value(i),
	}
	contacts := []any{}
	ids := []any{}
	for _, j := range st.liveKids(uLead, i, uContact) {
		contacts = append(contacts, st.contactJSON(j))
		ids = append(ids, st.t[uContact].ids[j])
	}
	obj["contacts"] = contacts
	obj["contact_ids"] = ids
	addrs := []any{}
	for _, j := range st.liveKids(uLead, i, uAddress) {
		addrs = append(addrs, st.addressJSON(j))
	}
	obj["addresses"] = addrs
	// "When a lead is returned, its basic info as well as related tasks,
	// opportunities, and custom fields are included" [DOC leads].
	for k, key := range map[uni]string{uOpp: "opportunities", uTask: "tasks"} {
		list := []any{}
		for _, j := range st.liveKids(uLead, i, k) {
			list = append(list, st.objectJSON(k, j))
		}
		obj[key] = list
	}
	for _, cf := range st.cfs {
		if v := cf.col.value(i); v != nil {
			obj["custom."+cf.ID] = v
		}
	}
	return obj
}

func (st *store) addressJSON(i int) map[string]any {
	c := st.t[uAddress].cols
	return map[string]any{
		"label": c["label"].value(i), "address_1": c["address_1"].value(i), "address_2": c["address_2"].value(i),
		"city": c["city"].value(i), "state": c["state"].value(i), "zipcode": c["zipcode"].value(i),
		"country": c["country"].value(i),
	}
}

// contactJSON is the contact as Close shows it (docs/close-api.md §8.2).
func (st *store) contactJSON(i int) map[string]any {
	ct := st.t[uContact]
	c := ct.cols
	emails := []any{}
	ec := st.t[uEmail].cols
	for _, j := range st.liveKids(uContact, i, uEmail) {
		emails = append(emails, map[string]any{"email": ec["email"].str[j], "type": ec["type"].str[j], "is_unsubscribed": ec["is_unsubscribed"].bl[j] == 1})
	}
	phones := []any{}
	pc := st.t[uPhone].cols
	for _, j := range st.liveKids(uContact, i, uPhone) {
		p := pc["phone"].str[j]
		phones = append(phones, map[string]any{"phone": p, "phone_formatted": formatPhone(p), "type": pc["type"].str[j]})
	}
	out := map[string]any{
		"id": ct.ids[i], "lead_id": c["lead_id"].str[i], "organization_id": st.orgID,
		"name": c["name"].value(i), "display_name": c["display_name"].str[i], "title": c["title"].value(i),
		"emails": emails, "phones": phones, "urls": st.contactURLs(i),
		"created_by": c["created_by"].value(i), "updated_by": c["updated_by"].value(i),
		"date_created": c["date_created"].value(i), "date_updated": c["date_updated"].value(i),
	}
	st.contactCustom(i, out)
	return out
}
