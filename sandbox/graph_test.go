package sandbox

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// graphOrg is a handcrafted organization with a lead graph (t0 is the
// clock): Alpha has won and lost opportunities, a task, every activity
// type and a contact url; Beta an active monthly opportunity, an address,
// a contact without email and a contact custom field; Gamma nothing but a
// contact; Delta only a lost opportunity.
func graphOrg(t *testing.T) (*env, map[string]string) {
	e := emptyEnv(t)
	st := e.s.st
	ids := map[string]string{"other": st.users[1].ID, "appt": st.actTypes[0].ID}
	for _, cf := range st.objectCFs[uContact] {
		ids["contact:"+cf.Name] = cf.ID
	}
	for _, cf := range st.objectCFs[uOpp] {
		ids["opp:"+cf.Name] = cf.ID
	}
	ids["Alpha"] = e.s.AddLead(LeadSpec{Name: "Alpha", DateCreated: t0.Add(-500 * day),
		Contacts: []ContactSpec{{ID: "cont_alpha", Name: "Ann Alpha", Emails: []EmailSpec{{Email: "ann@alpha.example"}},
			URLs: []URLSpec{{URL: "https://www.linkedin.com/in/ann", Type: "linkedin"}}, Custom: map[string]any{"Region": "EMEA"}}},
		Opportunities: []OpportunitySpec{
			{Status: "Won", Value: 1000, ValuePeriod: "annual", Confidence: 100, Contact: 1, DateCreated: t0.Add(-300 * day), DateWon: t0.Add(-200 * day)},
			{Status: "Lost", Value: 50, DateCreated: t0.Add(-100 * day),
				Custom: map[string]any{"Services": []string{"Setup", "Training"}, "Region": "APAC", "Discount": 10}}},
		Tasks: []TaskSpec{{Text: "Call back", Due: t0.Add(3 * day)}, {Text: "Send deck", Complete: true, Due: t0.Add(-3 * day)}},
		Activities: []ActivitySpec{
			{Type: "Email", Contact: 1, Direction: "outgoing", Subject: "Proposal", DateSent: t0.Add(-10 * day), HasReply: true, DateCreated: t0.Add(-10 * day)},
			{Type: "Email", Direction: "outgoing", Status: "draft", Subject: "Unsent", DateCreated: t0.Add(-1 * day)},
			{Type: "Call", Direction: "inbound", Duration: 60, Disposition: "answered", DateCreated: t0.Add(-400 * day)},
			{Type: "SMS", Direction: "outbound", Text: "See you soon", DateSent: t0.Add(-20 * day), DateCreated: t0.Add(-20 * day)},
			{Type: "Meeting", Title: "Kickoff", Status: "upcoming", StartsAt: t0.Add(2 * day), EndsAt: t0.Add(2*day + time.Hour)},
			{Type: "Note", Text: "Met at the fair"},
			{Type: "CustomActivity", CustomTypeID: ids["appt"]}}})
	ids["Beta"] = e.s.AddLead(LeadSpec{Name: "Beta", DateCreated: t0.Add(-50 * day),
		Contacts:      []ContactSpec{{ID: "cont_beta", Name: "Ben Beta", Custom: map[string]any{"Preferred Channel": "Phone"}}},
		Addresses:     []AddressSpec{{Address1: "1 Congress Ave", City: "Austin", State: "TX", Zipcode: "73301", Country: "US"}},
		Opportunities: []OpportunitySpec{{Status: "Active", User: ids["other"], Value: 100, ValuePeriod: "monthly", Confidence: 40}}})
	ids["Gamma"] = e.s.AddLead(LeadSpec{Name: "Gamma", Contacts: []ContactSpec{{Name: "Gil Gamma"}}})
	ids["Delta"] = e.s.AddLead(LeadSpec{Name: "Delta", Opportunities: []OpportunitySpec{{Status: "Lost", Value: 10}}})
	return e, ids
}

func opps(qs ...string) string {
	return and(append([]string{`{"type":"object_type","object_type":"opportunity"}`}, qs...)...)
}

func TestGraphQueries(t *testing.T) {
	e, ids := graphOrg(t)
	all := []string{"Alpha", "Beta", "Delta", "Gamma"}
	term := func(vs ...string) string { return `{"type":"term","values":` + jsonStr(vs) + `}` }
	gte := func(f float64) string { return fmt.Sprintf(`{"type":"number_range","gte":%g}`, f) }
	exists := `{"type":"exists"}`
	lastYear := mrange(offset("past", 365, 0, "start"), "null")
	cases := []struct {
		name  string
		query string
		want  []string
	}{
		{"has a won opportunity", leads(related("lead", "opportunity", fc("opportunity", "status_type", term("won")))), list("Alpha")},
		{"no opportunity", leads(negate(related("lead", "opportunity", `{"type":"match_all"}`))), list("Gamma")},
		{"opportunities all lost", leads(related("lead", "opportunity", `{"type":"match_all"}`),
			negate(related("lead", "opportunity", negate(fc("opportunity", "status_type", term("lost")))))), list("Delta")},
		{"opportunity by status label and user", leads(related("lead", "opportunity", and(fc("opportunity", "status_label", text("exact_value", "active")),
			fc("opportunity", "user_id", fmt.Sprintf(`{"type":"reference","reference_type":"user_or_group","object_ids":[%q]}`, ids["other"]))))), list("Beta")},
		{"opportunity value period and confidence", leads(related("lead", "opportunity", and(fc("opportunity", "value_period", term("monthly")),
			fc("opportunity", "confidence", `{"type":"number_range","gt":30,"lt":50}`)))), list("Beta")},
		{"opportunity won date", leads(related("lead", "opportunity", fc("opportunity", "date_won", mrange(offset("past", 365, 0, "start"), "null")))), list("Alpha")},
		{"opportunity multi-value custom field", leads(related("lead", "opportunity", cfc(ids["opp:Services"], term("Training")))), list("Alpha")},
		{"opportunity custom number, lcf_ spelling", leads(related("lead", "opportunity", cfc("l"+ids["opp:Discount"], gte(10)))), list("Alpha")},
		{"shared custom field on contacts", leads(related("lead", "contact", cfc(ids["contact:Region"], term("EMEA")))), list("Alpha")},
		{"shared custom field on opportunities", leads(related("lead", "opportunity", cfc(ids["opp:Region"], term("APAC")))), list("Alpha")},
		{"custom field as a regular field", leads(related("lead", "opportunity", fc("opportunity", "custom."+ids["opp:Region"], term("APAC")))), list("Alpha")},
		{"contact custom field, bare id", leads(related("lead", "contact", cfc(strings.TrimPrefix(ids["contact:Preferred Channel"], "cf_"), term("Phone")))), list("Beta")},
		{"nested contact url", leads(related("lead", "contact", related("contact", "contact_url", fc("contact_url", "type", term("linkedin"))))), list("Alpha")},
		{"contact url directly", leads(related("lead", "contact_url", fc("contact_url", "url", text("full_words", "linkedin")))), list("Alpha")},
		{"address location", leads(related("lead", "address", fc("address", "location", text("full_words", "Austin TX")))), list("Beta")},
		{"open task", leads(related("lead", "task", fc("task", "is_complete", `{"type":"boolean","value":false}`))), list("Alpha")},
		{"task due in the future", leads(related("lead", "task", fc("task", "due_date", mrange(`{"type":"now"}`, "null")))), list("Alpha")},
		{"never emailed", leads(negate(related("lead", "activity.email", `{"type":"match_all"}`))), list("Beta", "Delta", "Gamma")},
		{"no call in a year", leads(negate(related("lead", "activity.call", fc("activity.call", "date_created", lastYear)))), all},
		{"email with reply", leads(related("lead", "activity.email", fc("activity.email", "has_reply", `{"type":"boolean","value":true}`))), list("Alpha")},
		{"email subject and status", leads(related("lead", "activity.email", and(fc("activity.email", "subject", text("full_words", "proposal")),
			fc("activity.email", "status", term("sent")), fc("activity.email", "direction", term("outgoing")),
			fc("activity.email", "date_sent", lastYear)))), list("Alpha")},
		{"call duration and disposition", leads(related("lead", "activity.call", and(fc("activity.call", "duration", gte(60)),
			fc("activity.call", "disposition", term("answered")), fc("activity.call", "direction", term("inbound"))))), list("Alpha")},
		{"sms direction", leads(related("lead", "activity.sms", fc("activity.sms", "direction", term("outbound")))), list("Alpha")},
		{"upcoming meeting", leads(related("lead", "activity.meeting", and(fc("activity.meeting", "status", term("upcoming")),
			fc("activity.meeting", "starts_at", mrange(`{"type":"now"}`, "null"))))), list("Alpha")},
		{"note text", leads(related("lead", "activity.note", fc("activity.note", "note", text("phrase", "the fair")))), list("Alpha")},
		{"custom activity type", leads(related("lead", "activity.custom_activity", fc("activity.custom_activity", "custom_activity_type_id", term(ids["appt"])))), list("Alpha")},
		{"activity back to its lead", leads(related("lead", "activity.note", related("activity.note", "lead", fc("lead", "name", text("exact_value", "alpha"))))), list("Alpha")},
		{"num_opportunities", leads(fc("lead", "num_opportunities", `{"type":"number_range","gt":0}`)), list("Alpha", "Beta", "Delta")},
		{"num_won_opportunities", leads(fc("lead", "num_won_opportunities", `{"type":"number_range","gt":0}`)), list("Alpha")},
		{"num_lost_opportunities", leads(fc("lead", "num_lost_opportunities", gte(1))), list("Alpha", "Delta")},
		{"num_active_opportunities", leads(fc("lead", "num_active_opportunities", gte(1))), list("Beta")},
		{"num_contacts", leads(fc("lead", "num_contacts", `{"type":"number_range","lt":1}`)), list("Delta")},
		{"num_tasks", leads(fc("lead", "num_tasks", gte(2))), list("Alpha")},
		{"num_emails counts drafts", leads(fc("lead", "num_emails", gte(2))), list("Alpha")},
		{"num_calls", leads(fc("lead", "num_calls", gte(1))), list("Alpha")},
		{"num_sms", leads(fc("lead", "num_sms", gte(1))), list("Alpha")},
		{"num_notes", leads(fc("lead", "num_notes", gte(1))), list("Alpha")},
		{"num_meetings", leads(fc("lead", "num_meetings", gte(1))), list("Alpha")},
		{"num_upcoming_meetings", leads(fc("lead", "num_upcoming_meetings", gte(1))), list("Alpha")},
		{"times_communicated", leads(fc("lead", "times_communicated", `{"type":"number_range","gte":3,"lte":3}`)), list("Alpha")},
		{"all_urls_count", leads(fc("lead", "all_urls_count", gte(1))), list("Alpha")},
		{"last_call_date", leads(fc("lead", "last_call_date", mrange("null", offset("past", 365, 0, "start")))), list("Alpha")},
		{"last_email_date ignores drafts", leads(fc("lead", "last_email_date", mrange(offset("past", 5, 0, "start"), "null"))), nil},
		{"last_email_date", leads(fc("lead", "last_email_date", mrange(offset("past", 11, 0, "start"), "null"))), list("Alpha")},
		{"last_communication_date from activities", leads(fc("lead", "last_communication_date", mrange(offset("past", 11, 0, "start"), "null"))), list("Alpha")},
		{"never communicated", leads(negate(fc("lead", "last_communication_date", exists))), list("Beta", "Delta", "Gamma")},
		{"last_sent_sms_date", leads(fc("lead", "last_sent_sms_date", exists)), list("Alpha")},
		{"last_opportunity_won_date_won", leads(fc("lead", "last_opportunity_won_date_won", exists)), list("Alpha")},
		{"primary_opportunity_value", leads(fc("lead", "primary_opportunity_value", gte(50))), list("Alpha", "Beta")},
		{"avg_annual_won_opportunity_value", leads(fc("lead", "avg_annual_won_opportunity_value", gte(1000))), list("Alpha")},
		{"avg_annualized_active_opportunity_value", leads(fc("lead", "avg_annualized_active_opportunity_value", gte(1200))), list("Beta")},
		{"avg_opportunity_value", leads(fc("lead", "avg_opportunity_value", `{"type":"number_range","gt":500}`)), list("Alpha")},
		{"avg_lost_opportunity_value", leads(fc("lead", "avg_lost_opportunity_value", `{"type":"number_range","lte":10}`)), list("Delta")},
		{"contact urls_count", leads(related("lead", "contact", fc("contact", "urls_count", gte(1)))), list("Alpha")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			if got := e.names(c.query); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}

	counts := []struct {
		name  string
		query string
		want  int
	}{
		{"opportunities", opps(), 4},
		{"active opportunities", opps(fc("opportunity", "status_type", term("active"))), 1},
		{"my opportunities", opps(fc("opportunity", "user_id", `{"type":"current_user"}`)), 3},
		{"CURRENT_USER's tasks", leads(related("lead", "task", fc("task", "assigned_to", `{"type":"reference","reference_type":"user","object_ids":["CURRENT_USER"]}`))), 1},
		{"negated nested: leads whose contacts have no url", leads(negate(related("lead", "contact", related("contact", "contact_url", `{"type":"match_all"}`)))), 3},
		{"email to its contact to its lead", leads(related("lead", "activity.email", related("activity.email", "contact", related("contact", "lead", fc("lead", "name", text("exact_value", "alpha")))))), 1},
		{"opportunities of a lead", opps(related("opportunity", "lead", fc("lead", "name", text("exact_value", "Alpha")))), 2},
		{"opportunities with their contact", opps(related("opportunity", "contact", fc("contact", "name", text("full_words", "ann")))), 1},
		{"opportunities without a contact", opps(negate(related("opportunity", "contact", `{"type":"match_all"}`))), 3},
		{"opportunity custom field exists", opps(cfc(ids["opp:Services"], exists)), 1},
		{"opportunity text node", opps(`{"type":"text","mode":"full_words","value":"lost"}`), 2},
		{"contacts emailed", contacts(related("contact", "activity.email", `{"type":"match_all"}`)), 1},
		{"contacts with a url", contacts(fc("contact", "urls_count", gte(1))), 1},
		{"contacts of leads with open opportunities", contacts(related("contact", "lead", related("lead", "opportunity", fc("opportunity", "status_type", term("active"))))), 1},
		{"contacts in no sequence", contacts(negate(related("contact", "sequence_subscription", `{"type":"match_all"}`))), 3},
	}
	for _, c := range counts {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			if got := e.count(c.query); got != c.want {
				t.Errorf("got %d, want %d", got, c.want)
			}
		})
	}

	// Roll-ups sort like stored fields.
	e.t = t
	m := e.search(`{"query":` + leads() + `,"_fields":{"lead":["display_name"]},"sort":[{"direction":"desc","field":{"type":"regular_field","object_type":"lead","field_name":"num_opportunities"}},` +
		`{"direction":"asc","field":{"type":"regular_field","object_type":"lead","field_name":"display_name"}}]}`)
	var order []string
	for _, d := range m["data"].([]any) {
		order = append(order, d.(map[string]any)["display_name"].(string))
	}
	if want := []string{"Alpha", "Beta", "Delta", "Gamma"}; !reflect.DeepEqual(order, want) {
		t.Errorf("sorted by num_opportunities: %v, want %v", order, want)
	}
	// Opportunities are searched and rendered with their fields.
	m = e.search(`{"query":` + opps(fc("opportunity", "status_type", term("won"))) + `,"_fields":{"opportunity":["id","lead_id","status_label","value","custom"]}}`)
	rec := m["data"].([]any)[0].(map[string]any)
	if rec["__object_type"] != "opportunity" || rec["lead_id"] != ids["Alpha"] || rec["status_label"] != "Won" || rec["value"] != 1000.0 {
		t.Errorf("opportunity record: %v", rec)
	}
}

// TestUnsupportedMarker: what the sandbox cannot evaluate is a 400 that
// says so (header and body), on searches and bulk deletes alike; what it
// refuses as Close would carries no marker.
func TestUnsupportedMarker(t *testing.T) {
	e, _ := graphOrg(t)
	cases := []struct {
		name, query string
		marked      bool
		want        string
	}{
		{"unknown related type", leads(related("lead", "activity.whatsapp", `{"type":"match_all"}`)), true, `related_object_type "activity.whatsapp" is not supported`},
		{"unmodelled relation", leads(related("lead", "task", related("task", "contact", `{"type":"match_all"}`))), true, `task objects have no related contact objects`},
		{"unmodelled field", leads(fc("lead", "primary_opportunity_pipeline_name", text("full_words", "x"))), true, `unknown field lead.primary_opportunity_pipeline_name`},
		{"unknown condition", leads(fc("lead", "date_created", `{"type":"local_time","after":"09:00"}`)), true, `unknown condition type "local_time"`},
		{"unknown moment", leads(fc("lead", "date_created", mrange(`{"type":"next_full_moon"}`, "null"))), true, `unknown moment type`},
		{"unsearchable root", and(`{"type":"object_type","object_type":"activity.call"}`), true, `object_type "activity.call" cannot be searched`},
		{"unknown custom field", leads(cfc("cf_nope", `{"type":"exists"}`)), false, `unknown custom field cf_nope`},
		{"custom field of another kind", leads(cfc(e.s.st.objectCFs[uOpp][0].ID, `{"type":"exists"}`)), false, `is not a lead field`},
		{"wrong condition", leads(fc("lead", "num_calls", text("full_words", "x"))), false, `condition "text" cannot be used with lead.num_calls`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			for _, req := range []struct{ path, body, key string }{
				{"/api/v1/data/search/", `{"query":` + c.query + `}`, "query"},
				{"/api/v1/bulk_action/delete/", `{"s_query":` + c.query + `}`, "s_query"},
			} {
				code, m, hdr := e.do("POST", req.path, req.body)
				fe, _ := m["field-errors"].(map[string]any)
				msg, _ := fe[req.key].(string)
				if code != 400 || !strings.Contains(msg, c.want) {
					t.Fatalf("%s: %d %v, want 400 naming %q", req.path, code, m, c.want)
				}
				marker, _ := m["sandbox_unsupported"].(map[string]any)
				if got := hdr.Get(UnsupportedHeader) == "1"; got != c.marked || (marker != nil) != c.marked {
					t.Errorf("%s: header %q, body marker %v; want marked %v", req.path, hdr.Get(UnsupportedHeader), marker, c.marked)
				}
				if c.marked && (marker["field"] != req.key || marker["message"] != msg) {
					t.Errorf("%s: marker %v", req.path, marker)
				}
			}
		})
	}
	if n := len(e.s.Jobs()); n != 0 {
		t.Errorf("%d jobs created", n)
	}
}

type deleted struct{ kind, id, lead, bulk string }

// TestDeleteCascade: deleting a lead deletes everything it owns, a
// contact its emails, phones and urls, and the hook hears of each object.
func TestDeleteCascade(t *testing.T) {
	e, ids := graphOrg(t)
	var got []deleted
	e.s.SetDeleteHook(func(kind, id, leadID string, prev map[string]any, bulk string) {
		if prev == nil {
			t.Errorf("%s %s deleted without its previous data", kind, id)
		}
		got = append(got, deleted{kind, id, leadID, bulk})
	})
	before := map[string]int{}
	for u := range numUni {
		before[uniName[u]] = e.s.Count(uniName[u])
	}
	if code, m, _ := e.do("DELETE", "/api/v1/lead/"+ids["Alpha"]+"/", nil); code != 200 {
		t.Fatalf("delete: %d %v", code, m)
	}
	kinds := map[string]int{}
	for _, d := range got {
		kinds[d.kind]++
		if d.lead != ids["Alpha"] || d.bulk != "" {
			t.Errorf("hook: %+v", d)
		}
	}
	want := map[string]int{"lead": 1, "contact": 1, "contact_email": 1, "contact_url": 1, "opportunity": 2, "task": 2,
		"activity.email": 2, "activity.call": 1, "activity.sms": 1, "activity.meeting": 1, "activity.note": 1, "activity.custom_activity": 1}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("deleted %v, want %v", kinds, want)
	}
	for k, n := range want {
		if after := e.s.Count(k); after != before[k]-n {
			t.Errorf("%s: %d left, want %d", k, after, before[k]-n)
		}
	}
	if got[len(got)-1].kind != "lead" {
		t.Errorf("the lead is reported last (after what it owned): %+v", got[len(got)-1])
	}
	if n := e.count(opps()); n != 2 {
		t.Errorf("%d opportunities searchable after the delete, want 2", n)
	}
	if n := e.count(leads(fc("lead", "num_opportunities", `{"type":"number_range","gt":0}`))); n != 2 {
		t.Errorf("roll-up after the delete: %d, want 2", n)
	}

	// A bulk delete of opportunities removes just them, reporting its id.
	got = nil
	e.do("POST", "/api/v1/bulk_action/delete/", `{"s_query":`+opps(fc("opportunity", "status_type", `{"type":"term","values":["lost"]}`))+`}`)
	waitJobs(t, e)
	if len(got) != 1 || got[0].kind != "opportunity" || got[0].bulk == "" || got[0].lead != ids["Delta"] {
		t.Errorf("bulk delete of opportunities: %+v", got)
	}
	if !e.s.HasLead(ids["Delta"]) {
		t.Error("deleting an opportunity deleted its lead")
	}
}

func waitJobs(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		done := true
		for _, j := range e.s.Jobs() {
			if j.Status != "done" && j.Status != "error" {
				done = false
			}
		}
		if done {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("jobs did not finish")
}

// TestSeededGraph: the demo org's graph is spread the way a real one is,
// and the same seed gives the same graph.
func TestSeededGraph(t *testing.T) {
	a := newEnv(t, Options{Leads: 2000})
	b := newEnv(t, Options{Leads: 2000})
	ranges := map[string][2]int{
		"opportunity": {600, 1600}, "task": {400, 800}, "activity.email": {2000, 5000}, "activity.call": {800, 2500},
		"activity.sms": {150, 500}, "activity.meeting": {150, 450}, "activity.note": {350, 700},
		"activity.custom_activity": {50, 150}, "contact_url": {400, 1200}, "custom_object": {20, 100}, "sequence_subscription": {100, 300},
	}
	for kind, r := range ranges {
		n := a.s.Count(kind)
		if n < r[0] || n > r[1] {
			t.Errorf("%s: %d, want %d–%d", kind, n, r[0], r[1])
		}
		if m := b.s.Count(kind); m != n {
			t.Errorf("%s: %d and %d with the same seed", kind, n, m)
		}
	}
	a.t, b.t = t, t
	q := leads(related("lead", "opportunity", fc("opportunity", "status_type", `{"type":"term","values":["won"]}`)))
	won := a.count(q)
	customers := a.count(leads(fc("lead", "status_label", `{"type":"term","values":["Customer"]}`)))
	if won != customers || b.count(q) != won {
		t.Errorf("%d leads with won opportunities, %d customers (every customer has won one), %d in the twin", won, customers, b.count(q))
	}
	// last_communication_date as seeded agrees with the activities.
	stored := a.s.st.t[uLead].cols["last_communication_date"].tm
	a.s.mu.RLock()
	rolled, _ := a.s.st.derivedCol(uLead, "last_communication_date")
	a.s.mu.RUnlock()
	for i, v := range stored {
		if rolled.tm[i] != v {
			t.Fatalf("lead %d: stored last communication %d, roll-up %d", i, v, rolled.tm[i])
		}
	}
	if a.count(leads(fc("lead", "num_upcoming_meetings", `{"type":"number_range","gt":0}`))) == 0 {
		t.Error("no lead has an upcoming meeting")
	}
}

// TestLoadedGraph: a loaded export keeps the graph and infers custom field
// types from their values, nested dict included.
func TestLoadedGraph(t *testing.T) {
	e := newEnv(t, Options{LoadExport: "testdata/graph-export.json"})
	_, m, _ := e.do("GET", "/api/v1/custom_field/lead/", nil)
	got := map[string]string{}
	for _, d := range m["data"].([]any) {
		cf := d.(map[string]any)
		got[fmt.Sprint(cf["name"])+" "+fmt.Sprint(cf["id"])[:8]] = cf["type"].(string)
	}
	want := map[string]string{"Old Field cf_SUBST": "text", "Healthie ID cf_SUBST": "text", "Patient Navigator cf_fzBs9": "user",
		"Visits cf_" + madeUpID("Visits")[3:8]: "number", "Referrer cf_" + madeUpID("Referrer")[3:8]: "user"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lead custom fields %v, want %v", got, want)
	}
	cf := e.s.st.cfByID["cf_graphChannel000000000000000000000000000000"]
	if cf == nil || !reflect.DeepEqual(cf.objects, []uni{uContact, uOpp}) || cf.Type != "text" {
		t.Errorf("shared contact/opportunity field: %+v", cf)
	}
	if cf := e.s.st.cfByID["cf_SUBSTServices000000000000000000000000000000"]; cf == nil || cf.Type != "choices" || !cf.Multiple {
		t.Errorf("multi-value opportunity field: %+v", cf)
	}
	counts := []struct {
		name, query string
		want        int
	}{
		{"nested-only number", leads(cfc(madeUpID("Visits"), `{"type":"number_range","gte":3}`)), 2},
		{"nested-only user", leads(cfc(madeUpID("Referrer"), `{"type":"reference","reference_type":"user","object_ids":["user_exportWile000000000000000000000000000000000"]}`)), 1},
		{"user field", leads(cfc("cf_fzBs9wJXD6nBEB9VK4BGiDyHblMuzJIGiHmpnhy63Yx", `{"type":"current_user"}`)), 0},
		{"tasks", leads(related("lead", "task", fc("task", "assigned_to", `{"type":"reference","reference_type":"user","object_ids":["user_SUBSTOwner000000000000000000000000000000000"]}`))), 1},
		{"meetings", leads(fc("lead", "num_upcoming_meetings", `{"type":"number_range","gt":0}`)), 1},
		{"status changes are not activities", leads(fc("lead", "num_calls", `{"type":"number_range","gt":0}`)), 1},
		{"contact url", leads(related("lead", "contact_url", `{"type":"match_all"}`)), 1},
		{"opportunity statuses kept", opps(fc("opportunity", "status_id", `{"type":"reference","reference_type":"status.opportunity","object_ids":["stat_qsftsiOHpKUsGuoJ5Fdq6lRuWOxsdSBlXbIZvZkCHHi"]}`)), 1},
		{"stored last communication", leads(fc("lead", "last_communication_date", mrange(localDate("2026-02-01", "start"), localDate("2026-02-01", "end")))), 2},
	}
	for _, c := range counts {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			if n := e.count(c.query); n != c.want {
				t.Errorf("got %d, want %d", n, c.want)
			}
		})
	}
	e.t = t
	_, m, _ = e.do("GET", "/api/v1/contact/cont_graphJane000000000000000000000000000000000/", nil)
	if urls, _ := m["urls"].([]any); len(urls) != 1 || m["custom.cf_graphChannel000000000000000000000000000000"] != "Email" {
		t.Errorf("contact: %v", m)
	}
	if o := e.s.Origin(); !strings.Contains(o, "graph-export.json") || strings.Contains(o, "demo") {
		t.Errorf("origin %q", o)
	}
}
