package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Writes to the lead graph (docs/close-sandbox-api.md §1): opportunities,
// tasks and the note, call, sms and meeting activities, each under its
// Close path; opportunity statuses, pipelines, and custom fields of
// contacts, opportunities and shared ones.

// graphKinds maps the paths of the graph resources to their kinds.
var graphKinds = map[string]uni{
	"opportunity": uOpp, "task": uTask,
	"activity/note": uActNote, "activity/call": uActCall, "activity/sms": uActSMS, "activity/meeting": uActMeeting,
}

// derivedCols are the columns the API computes, never takes from a body.
var derivedCols = map[string]bool{
	"lead_id": true, "status_label": true, "status_type": true, "pipeline_id": true, "pipeline_name": true,
	"annualized_value": true, "expected_value": true, "created_by": true, "updated_by": true,
	"date_created": true, "date_updated": true,
}

// graphBody applies the fields of body to object i of kind k: every
// column of the kind by name (custom fields as custom.cf_…), except the
// derived ones. Unknown fields are ignored, as Close ignores them [INF].
// Every value is checked before any is written, so a refused body changes
// nothing.
func (st *store) graphBody(k uni, i int, body map[string]json.RawMessage, bad badFields) {
	t := st.t[k]
	type set struct {
		c *column
		v any
	}
	var sets []set
	for key, raw := range body {
		c := t.cols[key]
		if strings.HasPrefix(key, "custom.") {
			if cf := st.objectCF(k, key); cf != nil {
				c = cf.cols[k]
			} else {
				bad.add(key, "Unknown custom field.")
				continue
			}
		}
		if c == nil || derivedCols[key] {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			bad.add(key, "Invalid value.")
			continue
		}
		if c.cf != nil {
			if err := st.checkValue(c.cf, v); err != nil {
				bad.add(key, err.Error())
				continue
			}
		}
		if s, ok := v.(string); ok && c.kind == kText && c.phone {
			v = normalizePhone(s)
		}
		tmp := &column{name: c.name, kind: c.kind, multi: c.multi, dateOnly: c.dateOnly}
		st.appendNull(tmp)
		if err := st.setValue(tmp, 0, v); err != nil {
			bad.add(key, err.Error())
			continue
		}
		sets = append(sets, set{c, v})
	}
	if len(bad) > 0 {
		return
	}
	for _, x := range sets {
		_ = st.setValue(x.c, i, x.v)
	}
}

// deriveOpp recomputes an opportunity's status and value columns.
func (st *store) deriveOpp(i int, statusLabel string) bool {
	t := st.t[uOpp]
	c := t.cols
	id := c["status_id"].str[i]
	if statusLabel != "" {
		id = statusLabel
	}
	stat, ok := st.oppStatusOf(id)
	if !ok {
		return false
	}
	c["status_id"].str[i] = stat.ID
	st.setText(c["status_label"], i, stat.Label)
	st.setText(c["status_type"], i, stat.Type)
	c["pipeline_id"].str[i] = stat.PipelineID
	st.setText(c["pipeline_name"], i, st.pipelineName(stat.PipelineID))
	if c["value_period"].str[i] == "" {
		st.setText(c["value_period"], i, "one_time")
	}
	if c["value_currency"].str[i] == "" {
		st.setText(c["value_currency"], i, "USD")
	}
	v, conf := c["value"].num[i], c["confidence"].num[i]
	if v != v {
		v = 0
	}
	if conf != conf {
		conf = 0
	}
	c["annualized_value"].num[i] = annualized(v, c["value_period"].str[i])
	c["expected_value"].num[i] = v * conf / 100
	now := c["date_updated"].tm[i]
	if stat.Type == "won" && c["date_won"].tm[i] == noTime {
		c["date_won"].tm[i] = now
	}
	if stat.Type == "lost" && c["date_lost"].tm[i] == noTime {
		c["date_lost"].tm[i] = now
	}
	return true
}

// createGraph is POST /opportunity/, /task/, /activity/note/ …: lead_id is
// required.
func (c *call) createGraph(k uni) {
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
	lt := st.t[uLead]
	li, ok := lt.byID[leadID]
	switch {
	case leadID == "" && k == uOpp:
		// An opportunity without a lead gets a new, nameless one (Close
		// changelog 2025-02-14 [DOC]); made below, once the body is valid.
	case leadID == "":
		bad.add("lead_id", "This field is required.")
	case !ok || lt.dead[li] != 0:
		bad.add("lead_id", "Lead does not exist.")
	}
	label, _ := bad.str(body, "status")
	if k == uOpp {
		id, _ := bad.str(body, "status_id")
		if _, ok := st.oppStatusOf(orStr(label, id)); !ok {
			bad.add("status_id", "Opportunity status does not exist.")
		}
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	o := c.origin()
	newLead := leadID == ""
	if newLead {
		in, err := st.resolve(&LeadSpec{CreatedBy: c.user.ID}, s.now())
		if err != nil {
			fieldError(c.w, "lead_id", err.Error())
			return
		}
		li = int32(st.insertLead(in))
		leadID = lt.ids[li]
	}
	t := st.t[k]
	i := st.addRow(k, int(li), "")
	st.padRow(t)
	now := s.now().UnixMicro()
	cols := t.cols
	cols["lead_id"].str[i] = leadID
	cols["created_by"].str[i], cols["updated_by"].str[i] = c.user.ID, c.user.ID
	cols["date_created"].tm[i], cols["date_updated"].tm[i] = now, now
	if uc := cols["user_id"]; uc != nil {
		uc.str[i] = c.user.ID
	}
	if k == uTask {
		st.setText(cols["type"], i, "lead")
		cols["is_complete"].bl[i] = 0
		cols["assigned_to"].str[i] = c.user.ID
	}
	if raw, ok := body["date_created"]; ok && k.isActivity() {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			_ = st.setValue(cols["date_created"], i, v)
		}
	}
	st.graphBody(k, i, body, bad)
	if k == uOpp {
		st.deriveOpp(i, label)
	}
	if len(bad) > 0 {
		// Nothing is kept: a refused create leaves nothing behind.
		st.retire(k, i)
		if newLead {
			st.retire(uLead, int(li))
		}
		fieldErrors(c.w, bad)
		return
	}
	if newLead {
		s.logEvent(o, "lead", leadID, leadID, "created", st.leadJSON(int(li)), nil, nil)
	}
	obj := st.objectJSON(k, i)
	s.logEvent(o, eventType(uniName[k]), t.ids[i], leadID, "created", obj, nil, nil)
	writeJSON(c.w, http.StatusOK, c.selectFields(obj))
}

func (c *call) getGraph(k uni, id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	if i, ok := c.liveIndex(k, id); ok {
		writeJSON(c.w, http.StatusOK, c.selectFields(c.s.st.objectJSON(k, i)))
	}
}

// listGraph is GET of a graph resource: _limit (at most 200 [INF]),
// _skip, lead_id.
func (c *call) listGraph(k uni) {
	limit, skip, ok := c.page(0, 200, 0)
	if !ok {
		return
	}
	lead := c.r.URL.Query().Get("lead_id")
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	st := c.s.st
	t := st.t[k]
	data := []any{}
	seen, more := 0, false
	for i, d := range t.dead {
		if d != 0 || (lead != "" && t.cols["lead_id"].str[i] != lead) {
			continue
		}
		if seen >= skip+limit {
			more = true
			break
		}
		if seen >= skip {
			data = append(data, c.selectFields(st.objectJSON(k, i)))
		}
		seen++
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": more})
}

// updateGraph is a partial update of a graph object.
func (c *call) updateGraph(k uni, id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	i, ok := c.liveIndex(k, id)
	if !ok {
		return
	}
	t := st.t[k]
	bad := badFields{}
	if v, ok := bad.str(body, "lead_id"); ok && v != t.cols["lead_id"].str[i] {
		bad.add("lead_id", "The sandbox does not move objects between leads.")
	}
	label, _ := bad.str(body, "status")
	if k == uOpp {
		if id, ok := bad.str(body, "status_id"); ok || label != "" {
			if _, ok := st.oppStatusOf(orStr(label, id)); !ok {
				bad.add("status_id", "Opportunity status does not exist.")
			}
		}
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := st.objectJSON(k, i)
	if st.graphBody(k, i, body, bad); len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	t.cols["date_updated"].tm[i] = s.now().UnixMicro()
	t.cols["updated_by"].str[i] = c.user.ID
	if k == uOpp {
		st.deriveOpp(i, label)
	}
	after := st.objectJSON(k, i)
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), eventType(uniName[k]), id, st.leadOf(k, i), "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, c.selectFields(after))
}

func (c *call) deleteGraph(k uni, id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := c.liveIndex(k, id)
	if !ok {
		return
	}
	s.deleting(c.origin(), func(at int64) { s.st.deleteObject(k, i, at, "") })
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// graphRoutes answers the graph resources' paths.
func graphRoutes(seg []string, m *map[string]handler, arg *string) bool {
	n := len(seg)
	base, id := strings.Join(seg, "/"), ""
	if _, ok := graphKinds[base]; !ok && n > 1 {
		base, id = strings.Join(seg[:n-1], "/"), seg[n-1]
	}
	k, ok := graphKinds[base]
	if !ok {
		return false
	}
	if id == "" {
		*m = map[string]handler{
			"GET":  func(c *call, _ string) { c.listGraph(k) },
			"POST": func(c *call, _ string) { c.createGraph(k) },
		}
		return true
	}
	*m, *arg = map[string]handler{
		"GET":    func(c *call, id string) { c.getGraph(k, id) },
		"PUT":    func(c *call, id string) { c.updateGraph(k, id) },
		"DELETE": func(c *call, id string) { c.deleteGraph(k, id) },
	}, id
	return true
}

// --- opportunity statuses and pipelines ---------------------------------------

func (s *Server) oppStatusJSON(o oppStatus) map[string]any {
	return map[string]any{"id": o.ID, "label": o.Label, "type": o.Type, "status_type": o.Type,
		"pipeline_id": o.PipelineID, "organization_id": s.st.orgID}
}

func (c *call) listOppStatuses(string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	data := []any{}
	for _, o := range c.s.st.oppStatuses {
		data = append(data, c.selectFields(c.s.oppStatusJSON(o)))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": false})
}

func (c *call) getOppStatus(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	n, ok := c.s.st.oppStatusByID[id]
	if !ok {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	writeJSON(c.w, http.StatusOK, c.selectFields(c.s.oppStatusJSON(c.s.st.oppStatuses[n])))
}

// createOppStatus is POST /status/opportunity/: label, type (active, won,
// lost) and pipeline_id (the first pipeline when none is given [INF]).
func (c *call) createOppStatus(string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	bad := badFields{}
	label, _ := bad.str(body, "label")
	typ, _ := bad.str(body, "type")
	if typ == "" {
		typ, _ = bad.str(body, "status_type")
	}
	pid, _ := bad.str(body, "pipeline_id")
	if strings.TrimSpace(label) == "" {
		bad.add("label", "This field is required.")
	}
	if !slices.Contains([]string{"active", "won", "lost"}, typ) {
		bad.add("type", "Input should be 'active', 'won' or 'lost'")
	}
	if pid == "" && len(st.pipelines) > 0 {
		pid = st.pipelines[0].ID
	} else if st.pipelineName(pid) == "" {
		bad.add("pipeline_id", "Pipeline does not exist.")
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	o := oppStatus{ID: randID(st.idRand, "stat_"), Label: label, Type: typ, PipelineID: pid}
	st.addOppStatus(o)
	obj := s.oppStatusJSON(o)
	s.logEvent(c.origin(), "status.opportunity", o.ID, "", "created", obj, nil, nil)
	writeJSON(c.w, http.StatusOK, obj)
}

// updateOppStatus renames a status; the opportunities that have it show
// the new label.
func (c *call) updateOppStatus(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	n, ok := st.oppStatusByID[id]
	if !ok {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	bad := badFields{}
	label, has := bad.str(body, "label")
	if has && strings.TrimSpace(label) == "" {
		bad.add("label", "This field may not be blank.")
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := s.oppStatusJSON(st.oppStatuses[n])
	if has {
		st.oppStatuses[n].Label = label
		ot := st.t[uOpp]
		for i, d := range ot.dead {
			if d == 0 && ot.cols["status_id"].str[i] == id {
				st.setText(ot.cols["status_label"], i, label)
			}
		}
	}
	after := s.oppStatusJSON(st.oppStatuses[n])
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), "status.opportunity", id, "", "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, after)
}

// deleteOppStatus removes a status no opportunity has (refused otherwise,
// as for lead statuses [INF]).
func (c *call) deleteOppStatus(id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	n, ok := st.oppStatusByID[id]
	if !ok {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return
	}
	ot := st.t[uOpp]
	for i, d := range ot.dead {
		if d == 0 && ot.cols["status_id"].str[i] == id {
			errorJSON(c.w, http.StatusBadRequest, "This opportunity status is still used by opportunities; give them another status first.")
			return
		}
	}
	before := s.oppStatusJSON(st.oppStatuses[n])
	st.oppStatuses = slices.Delete(st.oppStatuses, n, n+1)
	st.oppStatusByID = map[string]int{}
	for k, o := range st.oppStatuses {
		st.oppStatusByID[o.ID] = k
	}
	st.gen++
	s.logEvent(c.origin(), "status.opportunity", id, "", "deleted", nil, before, nil)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

func (s *Server) pipelineJSON(p pipeline) map[string]any {
	statuses := []any{}
	for _, o := range s.st.oppStatuses {
		if o.PipelineID == p.ID {
			statuses = append(statuses, s.oppStatusJSON(o))
		}
	}
	return map[string]any{"id": p.ID, "name": p.Name, "organization_id": s.st.orgID, "statuses": statuses}
}

func (c *call) listPipelines(string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	data := []any{}
	for _, p := range c.s.st.pipelines {
		data = append(data, c.selectFields(c.s.pipelineJSON(p)))
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": false})
}

func (c *call) pipelineIndex(id string) (int, bool) {
	for n, p := range c.s.st.pipelines {
		if p.ID == id {
			return n, true
		}
	}
	errorJSON(c.w, http.StatusNotFound, "Not found.")
	return 0, false
}

func (c *call) getPipeline(id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	if n, ok := c.pipelineIndex(id); ok {
		writeJSON(c.w, http.StatusOK, c.selectFields(c.s.pipelineJSON(c.s.st.pipelines[n])))
	}
}

// createPipeline is POST /pipeline/ with a name.
func (c *call) createPipeline(string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	bad := badFields{}
	name, _ := bad.str(body, "name")
	if strings.TrimSpace(name) == "" {
		bad.add("name", "This field is required.")
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	p := pipeline{ID: randID(s.st.idRand, "pipe_"), Name: name}
	s.st.pipelines = append(s.st.pipelines, p)
	obj := s.pipelineJSON(p)
	s.logEvent(c.origin(), "pipeline", p.ID, "", "created", obj, nil, nil)
	writeJSON(c.w, http.StatusOK, obj)
}

// updatePipeline renames a pipeline, and with `statuses` orders its
// opportunity statuses, moving in those from other pipelines [DOC].
func (c *call) updatePipeline(id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := c.pipelineIndex(id)
	if !ok {
		return
	}
	bad := badFields{}
	name, has := bad.str(body, "name")
	if has && strings.TrimSpace(name) == "" {
		bad.add("name", "This field may not be blank.")
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	var order []string
	if raw, ok := body["statuses"]; ok {
		var list []struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &list); err != nil {
			bad.add("statuses", "Input should be a list of {\"id\": …} objects")
		}
		for _, x := range list {
			if _, ok := s.st.oppStatusByID[x.ID]; !ok {
				bad.add("statuses", "Opportunity status "+x.ID+" does not exist.")
				break
			}
			order = append(order, x.ID)
		}
	}
	if len(bad) > 0 {
		fieldErrors(c.w, bad)
		return
	}
	before := s.pipelineJSON(s.st.pipelines[n])
	if order != nil {
		s.st.orderPipeline(id, order)
	}
	if has {
		s.st.pipelines[n].Name = name
		ot := s.st.t[uOpp]
		for i, d := range ot.dead {
			if d == 0 && ot.cols["pipeline_id"].str[i] == id {
				s.st.setText(ot.cols["pipeline_name"], i, name)
			}
		}
	}
	after := s.pipelineJSON(s.st.pipelines[n])
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), "pipeline", id, "", "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, after)
}

// deletePipeline removes a pipeline without statuses (refused otherwise
// [INF]).
func (c *call) deletePipeline(id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := c.pipelineIndex(id)
	if !ok {
		return
	}
	for _, o := range s.st.oppStatuses {
		if o.PipelineID == id {
			errorJSON(c.w, http.StatusBadRequest, "This pipeline still has opportunity statuses; move or delete them first.")
			return
		}
	}
	before := s.pipelineJSON(s.st.pipelines[n])
	s.st.pipelines = slices.Delete(s.st.pipelines, n, n+1)
	s.logEvent(c.origin(), "pipeline", id, "", "deleted", nil, before, nil)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// --- custom fields of contacts, opportunities and shared ones -----------------

// cfKinds maps /custom_field/{kind}/ to the kinds a new field goes on;
// a shared field is on leads, contacts and opportunities [INF: Close lets a
// shared field be associated with chosen object types].
var cfKinds = map[string][]uni{"contact": {uContact}, "opportunity": {uOpp}, "shared": {uLead, uContact, uOpp}}

func (c *call) listObjectCFs(kind string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	data := []any{}
	seen := map[*customField]bool{}
	for _, u := range cfKinds[kind] {
		for _, cf := range c.s.st.objectCFs[u] {
			if seen[cf] || (kind == "shared") != (len(cf.objects) > 1 || slices.Contains(cf.objects, uLead)) {
				continue
			}
			seen[cf] = true
			data = append(data, c.selectFields(c.s.st.customFieldJSON(cf)))
		}
	}
	writeJSON(c.w, http.StatusOK, map[string]any{"data": data, "has_more": false})
}

func (c *call) createObjectCF(kind string) {
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
	s.st.addObjectCF(cf, cfKinds[kind]...)
	s.st.gen++
	obj := s.st.customFieldJSON(cf)
	s.logEvent(c.origin(), "custom_field."+kind, cf.ID, "", "created", obj, nil, nil)
	writeJSON(c.w, http.StatusOK, obj)
}

func (c *call) objectCFByID(kind, id string) *customField {
	cf := c.s.st.cfByID[id]
	if cf == nil {
		errorJSON(c.w, http.StatusNotFound, "Not found.")
		return nil
	}
	for _, u := range cfKinds[kind] {
		if cf.cols[u] != nil {
			return cf
		}
	}
	errorJSON(c.w, http.StatusNotFound, "Not found.")
	return nil
}

func (c *call) getObjectCF(kind, id string) {
	c.s.mu.RLock()
	defer c.s.mu.RUnlock()
	if cf := c.objectCFByID(kind, id); cf != nil {
		writeJSON(c.w, http.StatusOK, c.selectFields(c.s.st.customFieldJSON(cf)))
	}
}

func (c *call) updateObjectCF(kind, id string) {
	body := c.body()
	if body == nil {
		return
	}
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cf := c.objectCFByID(kind, id)
	if cf == nil {
		return
	}
	bad := badFields{}
	name, has := bad.str(body, "name")
	if has && strings.TrimSpace(name) == "" {
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
	if has {
		cf.Name = name
	}
	if hasChoices {
		cf.Choices = choices
	}
	after := s.st.customFieldJSON(cf)
	changed, prev := diff(before, after)
	s.logEvent(c.origin(), "custom_field."+kind, id, "", "updated", after, prev, changed)
	writeJSON(c.w, http.StatusOK, after)
}

// deleteObjectCF removes the field and its values from every object.
func (c *call) deleteObjectCF(kind, id string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	cf := c.objectCFByID(kind, id)
	if cf == nil {
		return
	}
	before := s.st.customFieldJSON(cf)
	s.st.removeCustomField(cf)
	s.logEvent(c.origin(), "custom_field."+kind, id, "", "deleted", nil, before, nil)
	writeJSON(c.w, http.StatusOK, map[string]any{})
}

// orderPipeline makes ids the statuses of pipeline pid, in that order
// (moved from other pipelines if need be; the opportunities that have
// them follow). Statuses of the pipeline not listed keep their place
// after the listed ones [INF].
func (st *store) orderPipeline(pid string, ids []string) {
	listed := map[string]bool{}
	var moved []oppStatus
	for _, id := range ids {
		o := st.oppStatuses[st.oppStatusByID[id]]
		o.PipelineID = pid
		moved = append(moved, o)
		listed[id] = true
	}
	var rest []oppStatus
	at := -1
	for _, o := range st.oppStatuses {
		if listed[o.ID] {
			if at < 0 {
				at = len(rest)
			}
			continue
		}
		if o.PipelineID == pid && at < 0 {
			at = len(rest)
		}
		rest = append(rest, o)
	}
	if at < 0 {
		at = len(rest)
	}
	st.oppStatuses = slices.Concat(rest[:at], moved, rest[at:])
	st.oppStatusByID = map[string]int{}
	for k, o := range st.oppStatuses {
		st.oppStatusByID[o.ID] = k
	}
	ot := st.t[uOpp]
	for i, d := range ot.dead {
		if d == 0 && listed[ot.cols["status_id"].str[i]] {
			ot.cols["pipeline_id"].str[i] = pid
			st.setText(ot.cols["pipeline_name"], i, st.pipelineName(pid))
		}
	}
	st.gen++
}
