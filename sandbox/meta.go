package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/schema"
)

// Writes to the organization's configuration (docs/close-sandbox-api.md
// §1): lead statuses, lead custom fields, saved searches, the organization.

// statusColors are the colors a lead status may have (the reference's
// enum [DOC]).
var statusColors = []string{"blue", "gray", "green", "magenta", "orange", "purple", "teal", "yellow"}

func (s *Server) leadStatusJSON(st status) map[string]any {
	return map[string]any{"id": st.ID, "label": st.Label, "color": nullStr(s.api.colors[st.ID]), "organization_id": s.st.orgID}
}

// statusBody reads label and color; label is required when create is set.
func statusBody(body map[string]json.RawMessage, create bool, bad badFields) (label string, hasLabel bool, color *string) {
	label, hasLabel = bad.str(body, "label")
	if create && strings.TrimSpace(label) == "" {
		bad.add("label", "This field is required.")
	}
	if raw, ok := body["color"]; ok {
		var cl *string
		if err := json.Unmarshal(raw, &cl); err != nil || (cl != nil && !slices.Contains(statusColors, *cl)) {
			bad.add("color", "Input should be one of "+strings.Join(statusColors, ", ")+" or null")
		}
		if cl == nil {
			cl = strPtr("")
		}
		color = cl
	}
	return label, hasLabel, color
}

func (c *call) createLeadStatus(string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := badFields{}
	label, _, color := statusBody(body, true, bad)
	if _, dup := s.st.statusByLabel(label); dup && len(bad) == 0 {
		bad.add("label", "A lead status with this label already exists.")
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	st := status{ID: randID(s.st.idRand, "stat_"), Label: label}
	s.st.addStatus(st)
	if color != nil {
		s.api.colors[st.ID] = *color
	}
	obj := s.leadStatusJSON(st)
	s.logEvent(c.origin(), "status.lead", st.ID, "", "created", obj, nil, nil)
	writeJSON(c.w, http.StatusOK, obj)
}

func (c *call) getLeadStatus(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	i, ok := c.s.st.statusByID[id]
	if !ok {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.leadStatusJSON(c.s.st.statuses[i])))
}

// updateLeadStatus renames a status or changes its color; the leads that
// have it show the new label.
func (c *call) updateLeadStatus(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	i, ok := st.statusByID[id]
	if !ok {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	bad := badFields{}
	label, hasLabel, color := statusBody(body, false, bad)
	if hasLabel && strings.TrimSpace(label) == "" {
		bad.add("label", "This field may not be blank.")
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := s.leadStatusJSON(st.statuses[i])
	if hasLabel && label != st.statuses[i].Label {
		st.statuses[i].Label = label
		lt := st.t[uLead]
		sid, lab := lt.cols["status_id"], lt.cols["status_label"]
		for li, d := range lt.dead {
			if d == 0 && sid.str[li] == id {
				st.setText(lab, li, label)
			}
		}
	}
	if color != nil {
		s.api.colors[id] = *color
	}
	after := s.leadStatusJSON(st.statuses[i])
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), "status.lead", id, "", "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, after)
}

// deleteLeadStatus removes a status no lead has. Close asks callers to
// make sure of that first [DOC]; what it does otherwise is not documented,
// and the sandbox refuses [INF].
func (c *call) deleteLeadStatus(id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	i, ok := st.statusByID[id]
	if !ok {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	lt := st.t[uLead]
	for li, d := range lt.dead {
		if d == 0 && lt.cols["status_id"].str[li] == id {
			errorJSON(c.w, http.StatusBadRequest, "This lead status is still used by leads; give them another status first.")
			return
		}
	}
	if len(st.statuses) == 1 {
		errorJSON(c.w, http.StatusBadRequest, "An organization needs at least one lead status.")
		return
	}
	before := s.leadStatusJSON(st.statuses[i])
	st.statuses = slices.Delete(st.statuses, i, i+1)
	st.statusByID = map[string]int{}
	for n, x := range st.statuses {
		st.statusByID[x.ID] = n
	}
	delete(s.api.colors, id)
	s.logEvent(c.origin(), "status.lead", id, "", "deleted", nil, before, nil)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// --- custom fields ---------------------------------------------------------

var customFieldTypes = []string{"text", "number", "date", "datetime", "choices", "user", "contact", "hidden"}

func (st *store) customFieldJSON(cf *customField) map[string]any {
	obj := map[string]any{
		"id": cf.ID, "name": cf.Name, "type": cf.Type, "description": nil,
		"accepts_multiple_values": cf.Multiple, "organization_id": st.orgID,
		"date_created": fmtTime(cf.Created), "date_updated": fmtTime(cf.Created),
		"created_by": st.users[0].ID, "updated_by": st.users[0].ID,
	}
	if cf.Type == "choices" {
		obj["choices"] = cf.Choices
	}
	return obj
}

func (c *call) getCustomField(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	cf := c.s.st.cfByID[id]
	if cf == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.st.customFieldJSON(cf)))
}

// createCustomField is POST /custom_field/lead/: name and type required;
// choices for a choices field; accepts_multiple_values.
func (c *call) createCustomField(string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := badFields{}
	name, _ := bad.str(body, "name")
	typ, _ := bad.str(body, "type")
	if strings.TrimSpace(name) == "" {
		bad.add("name", "This field is required.")
	} else if s.st.customFieldByName(name) != nil {
		bad.add("name", "A custom field with this name already exists.")
	}
	if !slices.Contains(customFieldTypes, typ) {
		bad.add("type", "Input should be one of "+strings.Join(customFieldTypes, ", "))
	}
	var choices []string
	if raw, ok := body["choices"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &choices); err != nil {
			bad.add("choices", "Input should be a list of strings")
		}
	}
	if typ == "choices" && len(choices) == 0 {
		bad.add("choices", "A choices field needs at least one choice.")
	}
	multi := false
	if raw, ok := body["accepts_multiple_values"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &multi); err != nil {
			bad.add("accepts_multiple_values", "Input should be a valid boolean")
		}
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	cf := &customField{ID: randID(s.st.idRand, "cf_"), Name: name, Type: typ, Choices: choices, Multiple: multi, Created: s.now()}
	s.st.addCustomField(cf)
	obj := s.st.customFieldJSON(cf)
	s.logEvent(c.origin(), "custom_field.lead", cf.ID, "", "created", obj, nil, nil)
	writeJSON(c.w, http.StatusOK, obj)
}

// updateCustomField renames a field or changes its choices (values already
// stored are kept [INF]); its type cannot change [INF].
func (c *call) updateCustomField(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cf := s.st.cfByID[id]
	if cf == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	bad := badFields{}
	name, hasName := bad.str(body, "name")
	if hasName && strings.TrimSpace(name) == "" {
		bad.add("name", "This field may not be blank.")
	}
	if t, ok := bad.str(body, "type"); ok && t != cf.Type {
		bad.add("type", "The type of a custom field cannot be changed.")
	}
	var choices []string
	raw, hasChoices := body["choices"]
	if hasChoices {
		if err := json.Unmarshal(raw, &choices); err != nil {
			bad.add("choices", "Input should be a list of strings")
		}
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := s.st.customFieldJSON(cf)
	if hasName {
		cf.Name = name
	}
	if hasChoices {
		cf.Choices = choices
	}
	after := s.st.customFieldJSON(cf)
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), "custom_field.lead", id, "", "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, after)
}

// deleteCustomField removes the field and its values from every lead.
func (c *call) deleteCustomField(id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cf := s.st.cfByID[id]
	if cf == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	before := s.st.customFieldJSON(cf)
	s.st.removeCustomField(cf)
	s.logEvent(c.origin(), "custom_field.lead", id, "", "deleted", nil, before, nil)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// --- saved searches --------------------------------------------------------

// savedSearchBody reads name, s_query (the {query, results_limit, sort}
// wrapper, whose query must be valid) and is_shared.
func (c *call) savedSearchBody(body map[string]json.RawMessage, v *smartView, create bool, bad badFields) {
	if name, ok := bad.str(body, "name"); ok {
		if strings.TrimSpace(name) == "" {
			bad.add("name", "This field may not be blank.")
		}
		v.Name = name
	} else if create {
		bad.add("name", "This field is required.")
	}
	if raw, ok := body["s_query"]; ok && !isNull(raw) {
		var w struct {
			Query json.RawMessage `json:"query"`
			Sort  json.RawMessage `json:"sort"`
		}
		if err := json.Unmarshal(raw, &w); err != nil || len(w.Query) == 0 {
			bad.add("s_query", "Input should be an object with a query")
		} else if node, _, err := schema.DecodeNode(w.Query); err != nil {
			bad.add("s_query.query", err.Error())
		} else if err := c.checkQuery(node); err != nil {
			bad.add("s_query.query", err.Error())
		} else if len(w.Sort) > 0 && !isNull(w.Sort) {
			if _, err := schema.DecodeSort(w.Sort); err != nil {
				bad.add("s_query.sort", err.Error())
			}
		}
		v.SQuery = compact(raw)
	} else if create {
		bad.add("s_query", "This field is required.")
	}
	if raw, ok := body["is_shared"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &v.IsShared); err != nil {
			bad.add("is_shared", "Input should be a valid boolean")
		}
	}
	if t, ok := bad.str(body, "type"); ok && t != "" {
		v.Type = t
	}
}

func (c *call) createSavedSearch(string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &smartView{Type: "lead", Created: s.now(), UserID: strPtr(c.user.ID)}
	bad := badFields{}
	c.savedSearchBody(body, v, true, bad)
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	v.ID = randID(s.st.idRand, "save_")
	s.st.addView(v)
	obj := s.st.viewJSON(v)
	s.logEvent(c.origin(), "saved_search", v.ID, "", "created", obj, nil, nil)
	writeJSON(c.w, http.StatusOK, obj)
}

func (c *call) updateSavedSearch(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.st.viewByID[id]
	if v == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	before := s.st.viewJSON(v)
	next := *v
	bad := badFields{}
	c.savedSearchBody(body, &next, false, bad)
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	*v = next
	after := s.st.viewJSON(v)
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), "saved_search", id, "", "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, after)
}

func (c *call) deleteSavedSearch(id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.st.viewByID[id]
	if v == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	before := s.st.viewJSON(v)
	delete(s.st.viewByID, id)
	s.st.views = slices.DeleteFunc(s.st.views, func(x *smartView) bool { return x == v })
	s.logEvent(c.origin(), "saved_search", id, "", "deleted", nil, before, nil)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// --- organization ----------------------------------------------------------

func (s *Server) organizationJSON() map[string]any {
	st := s.st
	statuses := []any{}
	for _, x := range st.statuses {
		statuses = append(statuses, s.leadStatusJSON(x))
	}
	// memberships carry the user's fields prefixed with user_ (the
	// reference's default, without _expand [DOC]).
	members := []any{}
	for _, u := range st.users {
		members = append(members, map[string]any{"id": "memb_" + strings.TrimPrefix(u.ID, "user_"), "user_id": u.ID,
			"user_email": u.Email, "user_full_name": u.name(), "user_first_name": u.FirstName, "user_last_name": u.LastName,
			"role_id": "admin"})
	}
	pipelines := []any{}
	for _, p := range st.pipelines {
		pipelines = append(pipelines, s.pipelineJSON(p))
	}
	created := st.users[0].Created
	return map[string]any{
		"id": st.orgID, "name": st.orgName, "currency": "USD", "currency_symbol": "$",
		"created_by": nil, "date_created": fmtTime(created), "date_updated": fmtTime(created),
		"lead_statuses": statuses, "pipelines": pipelines, "memberships": members, "inactive_memberships": []any{},
	}
}

// organization is GET /organization/{id}/; only the key's own organization
// exists (another id is a 404).
func (c *call) organization(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	if id != c.s.st.orgID {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.organizationJSON()))
}

// updateOrganization is PUT /organization/{id}/: the name and currency.
func (c *call) updateOrganization(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != s.st.orgID {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	bad := badFields{}
	name, hasName := bad.str(body, "name")
	if hasName && strings.TrimSpace(name) == "" {
		bad.add("name", "This field may not be blank.")
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := s.organizationJSON()
	if hasName {
		s.st.orgName = name
	}
	after := s.organizationJSON()
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), "organization", id, "", "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, after)
}

// removeCustomField drops a custom field and its columns from every kind
// it is on (a lead field, an object field, or a shared one).
func (st *store) removeCustomField(cf *customField) {
	drop := func(u uni, col *column) {
		t := st.t[u]
		delete(t.cols, col.name)
		t.order = slices.DeleteFunc(t.order, func(c *column) bool { return c == col })
	}
	for _, u := range cf.objects {
		drop(u, cf.cols[u])
		st.objectCFs[u] = slices.DeleteFunc(st.objectCFs[u], func(c *customField) bool { return c == cf })
	}
	if cf.col != nil {
		drop(uLead, cf.col)
		st.cfs = slices.DeleteFunc(st.cfs, func(c *customField) bool { return c == cf })
	}
	delete(st.cfByID, cf.ID)
	st.gen++
}

// checkQuery evaluates a query once, as Close validates a Smart View's
// query when it is saved [INF]. The caller holds mu.
func (c *call) checkQuery(node schema.Node) error {
	u, err := rootType(node)
	if err != nil {
		return err
	}
	ev := &evaluator{st: c.s.st, now: c.s.now(), loc: time.UTC, user: c.user.ID}
	if _, err := ev.node(node, u, ""); err != nil {
		var qe *queryError
		if errors.As(err, &qe) {
			return errors.New(qe.msg)
		}
		return err
	}
	return nil
}
