package sandbox

import (
	"fmt"
	"strings"
	"time"
)

// OpportunitySpec is an opportunity of a LeadSpec. Zero values get
// defaults: a generated id, the first active status, the lead's creator as
// user, a one-time value, the lead's dates.
type OpportunitySpec struct {
	ID string
	// Status is an opportunity status label ("Won") or id.
	Status string
	User   string
	// Contact is the 1-based position of the contact in the lead's
	// Contacts (0: none); ContactID names one by id instead.
	Contact     int
	ContactID   string
	Value       float64
	ValuePeriod string // one_time, monthly, annual
	Currency    string
	Confidence  float64
	Note        string
	DateCreated time.Time
	DateUpdated time.Time
	// DateWon defaults to DateUpdated for a won opportunity; DateLost
	// likewise for a lost one.
	DateWon, DateLost time.Time
	CreatedBy         string
	// Custom values by opportunity (or shared) custom field id or name.
	Custom map[string]any
}

// TaskSpec is a lead task.
type TaskSpec struct {
	ID          string
	AssignedTo  string
	Text        string
	Complete    bool
	Due         time.Time
	DateCreated time.Time
	DateUpdated time.Time
	CreatedBy   string
}

// ActivitySpec is one activity of a lead. Type is its export `_type`:
// Email, Call, SMS, Meeting, Note or CustomActivity. Fields that do not
// belong to the type are ignored.
type ActivitySpec struct {
	Type      string
	ID        string
	Contact   int // 1-based position in the lead's Contacts; 0 none
	ContactID string
	User      string
	// Direction: incoming/outgoing for emails, inbound/outbound for calls
	// and sms.
	Direction string
	Status    string
	// Email.
	Subject  string
	Sender   string
	DateSent time.Time
	HasReply bool
	// Call.
	Duration    float64
	Disposition string
	Phone       string
	// SMS text, note text, call note.
	Text string
	// Meeting.
	Title            string
	StartsAt, EndsAt time.Time
	// CustomActivity.
	CustomTypeID string
	DateCreated  time.Time
	DateUpdated  time.Time
	CreatedBy    string
}

// CustomObjectSpec is a custom object linked to the lead.
type CustomObjectSpec struct {
	ID          string
	TypeID      string
	Name        string
	DateCreated time.Time
	DateUpdated time.Time
}

// URLSpec is one url of a contact.
type URLSpec struct {
	URL  string
	Type string // url, linkedin, …; default url
}

// SubscriptionSpec is a contact's subscription to a sequence.
type SubscriptionSpec struct {
	ID          string
	SequenceID  string
	Status      string // active, paused, finished, …
	DateCreated time.Time
}

// oppStatusOf resolves an opportunity status label or id; "" is the first
// active status.
func (st *store) oppStatusOf(s string) (oppStatus, bool) {
	if i, ok := st.oppStatusByID[s]; ok {
		return st.oppStatuses[i], true
	}
	for _, o := range st.oppStatuses {
		if (s == "" && o.Type == "active") || (s != "" && strings.EqualFold(o.Label, s)) {
			return o, true
		}
	}
	return oppStatus{}, false
}

// objectCF resolves a custom field of kind u by id (with or without cf_,
// lcf_) or name.
func (st *store) objectCF(u uni, name string) *customField {
	if u == uLead {
		return st.customFieldByName(name)
	}
	id := normalizeCFID(name)
	for _, cf := range st.objectCFs[u] {
		if cf.ID == id || strings.EqualFold(cf.Name, name) {
			return cf
		}
	}
	return nil
}

// checkGraph validates what resolve does not: opportunity statuses and
// custom fields, activity types, contact references.
func (st *store) checkGraph(sp *LeadSpec) error {
	for _, o := range sp.Opportunities {
		if _, ok := st.oppStatusOf(o.Status); !ok {
			return fmt.Errorf("unknown opportunity status %q", o.Status)
		}
		if o.Contact < 0 || o.Contact > len(sp.Contacts) {
			return fmt.Errorf("opportunity contact %d out of range", o.Contact)
		}
		for k := range o.Custom {
			if st.objectCF(uOpp, k) == nil {
				return fmt.Errorf("unknown opportunity custom field %q", k)
			}
		}
	}
	for _, a := range sp.Activities {
		if _, ok := activityKindOf(a.Type); !ok {
			return fmt.Errorf("unknown activity type %q", a.Type)
		}
		if a.Contact < 0 || a.Contact > len(sp.Contacts) {
			return fmt.Errorf("activity contact %d out of range", a.Contact)
		}
	}
	for _, c := range sp.Contacts {
		for k := range c.Custom {
			if st.objectCF(uContact, k) == nil {
				return fmt.Errorf("unknown contact custom field %q", k)
			}
		}
	}
	return nil
}

func (a *AddressSpec) location() string {
	var parts []string
	for _, p := range []string{a.Address1, a.Address2, a.City, strings.TrimSpace(a.State + " " + a.Zipcode), a.Country} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// insertContactGraph adds a new contact's urls, subscriptions and custom
// values (the contact's own columns are written by insertContact).
func (st *store) insertContactGraph(ci int, cs *ContactSpec, leadID, creator string, created int64) {
	ct := st.t[uContact]
	ct.cols["urls_count"].num = append(ct.cols["urls_count"].num, float64(len(cs.URLs)))
	st.padRow(ct)
	st.padKids(ct)
	ut := st.t[uURL]
	for _, u := range cs.URLs {
		st.addRow(uURL, ci, "")
		st.putText(ut, "url", u.URL)
		st.putText(ut, "type", orStr(u.Type, "url"))
		st.padRow(ut)
	}
	sst := st.t[uSeqSub]
	for _, s := range cs.Subscriptions {
		st.addRow(uSeqSub, ci, s.ID)
		st.putRef(sst, "contact_id", ct.ids[ci])
		st.putRef(sst, "lead_id", leadID)
		st.putRef(sst, "sequence_id", s.SequenceID)
		st.putText(sst, "status", orStr(s.Status, "active"))
		st.putRef(sst, "created_by", creator)
		st.putRef(sst, "updated_by", creator)
		st.putTime(sst, "date_created", orT(s.DateCreated, time.UnixMicro(created)))
		st.putTime(sst, "date_updated", orT(s.DateCreated, time.UnixMicro(created)))
		st.padRow(sst)
	}
	for k, v := range cs.Custom {
		if cf := st.objectCF(uContact, k); cf != nil {
			// checkGraph has checked the names; a value of the wrong type
			// stays unset rather than failing the whole lead.
			_ = st.setValue(cf.cols[uContact], ci, v)
		}
	}
}

func orT(t, def time.Time) time.Time {
	if t.IsZero() {
		return def
	}
	return t
}

// insertLeadGraph adds a new lead's opportunities, tasks, activities and
// custom objects.
func (st *store) insertLeadGraph(li int, sp *LeadSpec) {
	lt := st.t[uLead]
	st.padRow(lt)
	st.padKids(lt)
	leadID := lt.ids[li]
	created := time.UnixMicro(lt.cols["date_created"].tm[li])
	creator := lt.cols["created_by"].str[li]
	cStart := int(lt.kids[uContact][li].off)
	contactID := func(pos int, id string) string {
		if id != "" || pos <= 0 {
			return id
		}
		return st.t[uContact].ids[cStart+pos-1]
	}
	ot := st.t[uOpp]
	for n := range sp.Opportunities {
		o := &sp.Opportunities[n]
		stat, ok := st.oppStatusOf(o.Status)
		if !ok {
			continue // checkGraph refuses these; seeds never make them
		}
		oi := st.addRow(uOpp, li, o.ID)
		dc := orT(o.DateCreated, created)
		du := orT(o.DateUpdated, dc)
		st.putRef(ot, "lead_id", leadID)
		st.putRef(ot, "contact_id", contactID(o.Contact, o.ContactID))
		st.putRef(ot, "user_id", orStr(o.User, creator))
		st.putRef(ot, "status_id", stat.ID)
		st.putText(ot, "status_label", stat.Label)
		st.putText(ot, "status_type", stat.Type)
		st.putRef(ot, "pipeline_id", stat.PipelineID)
		st.putText(ot, "pipeline_name", st.pipelineName(stat.PipelineID))
		period := orStr(o.ValuePeriod, "one_time")
		st.putNum(ot, "value", o.Value)
		st.putText(ot, "value_period", period)
		st.putText(ot, "value_currency", orStr(o.Currency, "USD"))
		st.putNum(ot, "annualized_value", annualized(o.Value, period))
		st.putNum(ot, "expected_value", o.Value*o.Confidence/100)
		st.putNum(ot, "confidence", o.Confidence)
		st.putText(ot, "note", o.Note)
		won, lost := o.DateWon, o.DateLost
		if stat.Type == "won" && won.IsZero() {
			won = du
		}
		if stat.Type == "lost" && lost.IsZero() {
			lost = du
		}
		st.putTime(ot, "date_won", won)
		st.putTime(ot, "date_lost", lost)
		by := orStr(o.CreatedBy, creator)
		st.putRef(ot, "created_by", by)
		st.putRef(ot, "updated_by", by)
		st.putTime(ot, "date_created", dc)
		st.putTime(ot, "date_updated", du)
		st.padRow(ot)
		for k, v := range o.Custom {
			if cf := st.objectCF(uOpp, k); cf != nil {
				_ = st.setValue(cf.cols[uOpp], oi, v)
			}
		}
	}
	tt := st.t[uTask]
	for n := range sp.Tasks {
		k := &sp.Tasks[n]
		st.addRow(uTask, li, k.ID)
		dc := orT(k.DateCreated, created)
		st.putRef(tt, "lead_id", leadID)
		st.putRef(tt, "assigned_to", orStr(k.AssignedTo, creator))
		st.putText(tt, "text", k.Text)
		st.putBool(tt, "is_complete", k.Complete)
		st.putTime(tt, "date", k.Due)
		st.putText(tt, "type", "lead")
		by := orStr(k.CreatedBy, creator)
		st.putRef(tt, "created_by", by)
		st.putRef(tt, "updated_by", by)
		st.putTime(tt, "date_created", dc)
		st.putTime(tt, "date_updated", orT(k.DateUpdated, dc))
		st.padRow(tt)
	}
	for n := range sp.Activities {
		a := &sp.Activities[n]
		u, ok := activityKindOf(a.Type)
		if !ok {
			continue
		}
		at := st.t[u]
		st.addRow(u, li, a.ID)
		dc := orT(a.DateCreated, created)
		st.putRef(at, "lead_id", leadID)
		st.putRef(at, "contact_id", contactID(a.Contact, a.ContactID))
		st.putRef(at, "user_id", orStr(a.User, creator))
		switch u {
		case uActEmail:
			st.putText(at, "direction", orStr(a.Direction, "outgoing"))
			st.putText(at, "status", orStr(a.Status, "sent"))
			st.putText(at, "subject", a.Subject)
			st.putText(at, "sender", a.Sender)
			st.putTime(at, "date_sent", a.DateSent)
			st.putBool(at, "has_reply", a.HasReply)
		case uActCall:
			st.putText(at, "direction", orStr(a.Direction, "outbound"))
			st.putText(at, "status", orStr(a.Status, "completed"))
			st.putText(at, "disposition", a.Disposition)
			st.putNum(at, "duration", a.Duration)
			st.appendTextTok(at.cols["phone"], a.Phone, formatPhone(a.Phone))
			st.putText(at, "note", a.Text)
		case uActSMS:
			st.putText(at, "direction", orStr(a.Direction, "outbound"))
			st.putText(at, "status", orStr(a.Status, "sent"))
			st.putText(at, "text", a.Text)
			st.putTime(at, "date_sent", a.DateSent)
		case uActMeeting:
			st.putText(at, "title", a.Title)
			st.putText(at, "status", orStr(a.Status, "upcoming"))
			st.putTime(at, "starts_at", a.StartsAt)
			st.putTime(at, "ends_at", a.EndsAt)
			if !a.StartsAt.IsZero() && !a.EndsAt.IsZero() {
				st.putNum(at, "duration", a.EndsAt.Sub(a.StartsAt).Seconds())
			}
		case uActNote:
			st.putText(at, "note", a.Text)
		case uActCustom:
			st.putRef(at, "custom_activity_type_id", a.CustomTypeID)
			st.putText(at, "status", orStr(a.Status, "published"))
		}
		by := orStr(a.CreatedBy, orStr(a.User, creator))
		st.putRef(at, "created_by", by)
		st.putRef(at, "updated_by", by)
		st.putTime(at, "date_created", dc)
		st.putTime(at, "date_updated", orT(a.DateUpdated, dc))
		st.padRow(at)
	}
	cot := st.t[uCustomObject]
	for n := range sp.CustomObjects {
		o := &sp.CustomObjects[n]
		st.addRow(uCustomObject, li, o.ID)
		dc := orT(o.DateCreated, created)
		st.putRef(cot, "lead_id", leadID)
		st.putRef(cot, "custom_object_type_id", o.TypeID)
		st.putText(cot, "name", o.Name)
		st.putRef(cot, "created_by", creator)
		st.putRef(cot, "updated_by", creator)
		st.putTime(cot, "date_created", dc)
		st.putTime(cot, "date_updated", orT(o.DateUpdated, dc))
		st.padRow(cot)
	}
}

// annualized is an opportunity's value over a year: a monthly value times
// twelve, others as they are [INF: Close documents annualized values, not
// how one-time values count].
func annualized(v float64, period string) float64 {
	if period == "monthly" {
		return v * 12
	}
	return v
}

// addObjectCF registers a custom field on contacts, opportunities or (a
// shared field) several kinds; a lead association goes through
// addCustomField so GET /custom_field/lead/ lists it.
func (st *store) addObjectCF(cf *customField, kinds ...uni) {
	for _, u := range kinds {
		if u == uLead {
			st.addCustomField(cf)
			cf.cols[uLead] = cf.col
			continue
		}
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
		t := st.t[u]
		for range t.n() {
			st.appendNull(c)
		}
		t.addCol(c)
		cf.cols[u] = c
		cf.objects = append(cf.objects, u)
		st.objectCFs[u] = append(st.objectCFs[u], cf)
		st.cfByID[cf.ID] = cf
	}
}

// normalizeCFID maps the spellings of a custom field id that Close accepts
// to the cf_ form: "cf_X", "lcf_X" (the lead-field spelling of older
// queries) and a bare "X" [INF: Close's docs show cf_ only; the other two
// appear in public client code].
func normalizeCFID(id string) string {
	id = strings.TrimPrefix(id, "custom.")
	switch {
	case strings.HasPrefix(id, "cf_"):
		return id
	case strings.HasPrefix(id, "lcf_"):
		return "cf_" + id[4:]
	}
	return "cf_" + id
}
