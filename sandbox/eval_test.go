package sandbox

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

const day = 24 * time.Hour

// evalOrg is a small handcrafted organization (t0 is Monday 2026-11-30
// 12:00 UTC). Leads created by the key's user: ACME Inc., Globex
// Corporation, Wayne Enterprises; by another user: Acme Incorporated, test.
type evalIDs struct {
	acme, acmeInc, globex, test, wayne string
	other                              string // a user who is not the caller
	cf                                 map[string]string
	status                             map[string]string
}

func evalOrg(t *testing.T) (*env, evalIDs) {
	e := emptyEnv(t)
	ids := evalIDs{other: e.s.st.users[1].ID, cf: map[string]string{}, status: map[string]string{}}
	for _, n := range []string{"Industry", "Lead Source", "Notes", "Employees", "Annual Revenue", "Contract Start"} {
		id, ok := e.s.CustomFieldID(n)
		if !ok {
			t.Fatalf("no custom field %q", n)
		}
		ids.cf[n] = id
	}
	for _, l := range statusLabels {
		ids.status[l], _ = e.s.StatusID(l)
	}
	ids.acme = e.s.AddLead(LeadSpec{Name: "ACME Inc.", Description: "Big customer in Springfield", URL: "https://acme.com",
		DateCreated: t0.Add(-400 * day), LastCommunicationDate: t0.Add(-10 * day),
		Custom: map[string]any{"Industry": "Software", "Employees": 50, "Contract Start": "2026-01-15", "Notes": "Prefers email over calls"},
		Contacts: []ContactSpec{{Name: "Bruce Wayne", Title: "CEO", Emails: []EmailSpec{{Email: "bruce@wayne.com"}},
			Phones: []PhoneSpec{{Phone: "+14155550100", Type: "mobile"}}}}})
	ids.acmeInc = e.s.AddLead(LeadSpec{Name: "Acme Incorporated", Status: "Bad Fit", CreatedBy: ids.other, DateCreated: t0.Add(-10 * day),
		Custom:   map[string]any{"Employees": 500, "Industry": "Retail"},
		Contacts: []ContactSpec{{Name: "Jane Doe", Title: "VP of Sales", Emails: []EmailSpec{{Email: "jane@example.com", Type: "home", Unsubscribed: true}}}}})
	ids.globex = e.s.AddLead(LeadSpec{Name: "Globex Corporation", Status: "Customer", DateCreated: t0.Add(-800 * day),
		LastCommunicationDate: t0.Add(-500 * day), Custom: map[string]any{"Industry": "Finance"},
		Contacts: []ContactSpec{{Name: "Hank Scorpio", Title: "CEO"},
			{Name: "Homer Simpson", Title: "Safety Inspector", Phones: []PhoneSpec{{Phone: "+14155550199"}}}},
		Addresses: []AddressSpec{{Address1: "742 Evergreen Terrace", City: "Springfield", State: "OR", Zipcode: "97403", Country: "US"}}})
	ids.test = e.s.AddLead(LeadSpec{Name: "test", CreatedBy: ids.other, DateCreated: t0.Add(-time.Hour)})
	ids.wayne = e.s.AddLead(LeadSpec{Name: "Wayne Enterprises", Status: "Qualified", DateCreated: t0.Add(-30 * day),
		Custom:    map[string]any{"Industry": "Software", "Employees": 5000, "Annual Revenue": 1e6},
		Contacts:  []ContactSpec{{Name: "Lucius Fox", Title: "CTO", Emails: []EmailSpec{{Email: "lucius@wayne.com"}, {Email: "lfox@gmail.com", Type: "home"}}}},
		Addresses: []AddressSpec{{City: "Gotham", Country: "US"}, {City: "Metropolis", Country: "US"}}})
	return e, ids
}

const (
	nAcme    = "ACME Inc."
	nAcmeInc = "Acme Incorporated"
	nGlobex  = "Globex Corporation"
	nTest    = "test"
	nWayne   = "Wayne Enterprises"
)

func list(s ...string) []string { return s }

func fixedUTC(t time.Time) string {
	return fmt.Sprintf(`{"type":"fixed_utc","value":%q}`, t.Format(time.RFC3339))
}
func localDate(d, which string) string {
	return fmt.Sprintf(`{"type":"fixed_local_date","value":%q,"which":%q}`, d, which)
}
func period(r, which string) string {
	return fmt.Sprintf(`{"type":"start_end_of_predefined_relative_period","range":%q,"which":%q}`, r, which)
}
func offset(dir string, days, hours int, which string) string {
	return fmt.Sprintf(`{"type":"offset","direction":%q,"moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"days":%d,"hours":%d,"minutes":0,"seconds":0},"which_day_end":%q}`, dir, days, hours, which)
}
func mrange(from, before string) string {
	return fmt.Sprintf(`{"type":"moment_range","on_or_after":%s,"before":%s}`, from, before)
}

func TestEvaluateConstructs(t *testing.T) {
	e, ids := evalOrg(t)
	name := func(c string) string { return fc("lead", "name", c) }
	created := func(c string) string { return fc("lead", "date_created", c) }
	view := func(n string) string {
		id, ok := e.s.SmartViewID(n)
		if !ok {
			t.Fatalf("no view %q", n)
		}
		return fmt.Sprintf(`{"type":"saved_search","saved_search_id":%q}`, id)
	}
	ref := func(rt string, objIDs ...string) string {
		return fmt.Sprintf(`{"type":"reference","reference_type":%q,"object_ids":%s}`, rt, jsonStr(objIDs))
	}
	term := func(v ...string) string { return fmt.Sprintf(`{"type":"term","values":%s}`, jsonStr(v)) }
	all := list(nAcme, nAcmeInc, nGlobex, nTest, nWayne)

	cases := []struct {
		name  string
		query string
		hdr   []string
		want  []string
	}{
		// text modes on a field
		{"full_words", leads(name(text("full_words", "acme inc"))), nil, list(nAcme)},
		{"full_words any order", leads(name(text("full_words", "Inc. ACME"))), nil, list(nAcme)},
		{"full_words one word", leads(name(text("full_words", "acme"))), nil, list(nAcme, nAcmeInc)},
		{"full_words unknown word", leads(name(text("full_words", "acme zebra"))), nil, nil},
		{"phrase", leads(name(text("phrase", "acme inc"))), nil, list(nAcme)},
		{"phrase wrong order", leads(name(text("phrase", "inc acme"))), nil, nil},
		{"beginning_of_words", leads(name(text("beginning_of_words", "acm inc"))), nil, list(nAcme, nAcmeInc)},
		{"beginning_of_words mid-word is no match", leads(name(text("beginning_of_words", "orporation"))), nil, nil},
		{"beginning_of_words one", leads(name(text("beginning_of_words", "corp"))), nil, list(nGlobex)},
		{"exact_value case-insensitive", leads(name(text("exact_value", "acme inc."))), nil, list(nAcme)},
		{"exact_value whole value", leads(name(text("exact_value", "acme inc"))), nil, nil},
		{"exact_value junk", leads(name(text("exact_value", "TEST"))), nil, list(nTest)},
		{"text on description", leads(fc("lead", "description", text("full_words", "springfield"))), nil, list(nAcme)},
		{"text on url", leads(fc("lead", "url", text("beginning_of_words", "acme"))), nil, list(nAcme)},
		{"text on custom text field", leads(cfc(ids.cf["Notes"], text("phrase", "email over calls"))), nil, list(nAcme)},
		// query-level text: name, description, URL, contact names, emails, phones
		{"text across fields", leads(`{"type":"text","mode":"full_words","value":"bruce springfield"}`), nil, list(nAcme)},
		{"text email domain", leads(`{"type":"text","mode":"full_words","value":"wayne"}`), nil, list(nAcme, nWayne)},
		{"text prefix of contact name", leads(`{"type":"text","mode":"beginning_of_words","value":"luc"}`), nil, list(nWayne)},
		{"text exact email", leads(`{"type":"text","mode":"exact_value","value":"JANE@example.com"}`), nil, list(nAcmeInc)},
		{"text phone parts", leads(`{"type":"text","mode":"full_words","value":"555 0199"}`), nil, list(nGlobex)},
		{"text phone phrase", leads(`{"type":"text","mode":"phrase","value":"415-555-0100"}`), nil, list(nAcme)},
		{"text phone exact digits", leads(`{"type":"text","mode":"exact_value","value":"(415) 555-0100"}`), nil, nil},
		{"text titles are not in a lead's text", leads(`{"type":"text","mode":"phrase","value":"safety inspector"}`), nil, nil},
		{"text on contacts includes titles", contacts(`{"type":"text","mode":"phrase","value":"safety inspector"}`), nil, list("Homer Simpson")},
		// term
		{"term status label", leads(fc("lead", "status_label", term("Bad Fit"))), nil, list(nAcmeInc)},
		{"term choices", leads(cfc(ids.cf["Industry"], term("Software", "Finance"))), nil, list(nAcme, nGlobex, nWayne)},
		{"term is case-sensitive", leads(cfc(ids.cf["Industry"], term("software"))), nil, nil},
		{"term custom field via regular_field", leads(fc("lead", "custom."+ids.cf["Industry"], term("Retail"))), nil, list(nAcmeInc)},
		// reference, current_user
		{"reference status", leads(fc("lead", "status_id", ref("status.lead", ids.status["Bad Fit"], ids.status["Customer"]))), nil, list(nAcmeInc, nGlobex)},
		{"reference user", leads(fc("lead", "created_by", ref("user", ids.other))), nil, list(nAcmeInc, nTest)},
		{"reference CURRENT_USER", leads(fc("lead", "created_by", ref("user_or_group", "CURRENT_USER"))), nil, list(nAcme, nGlobex, nWayne)},
		{"reference contact lead_id", contacts(fc("contact", "lead_id", ref("lead", ids.globex))), nil, list("Hank Scorpio", "Homer Simpson")},
		{"current_user", leads(fc("lead", "created_by", `{"type":"current_user"}`)), nil, list(nAcme, nGlobex, nWayne)},
		{"current_user negated", leads(negate(fc("lead", "created_by", `{"type":"current_user"}`))), nil, list(nAcmeInc, nTest)},
		// boolean
		{"boolean", leads(related("lead", "contact", related("contact", "contact_email", fc("contact_email", "is_unsubscribed", `{"type":"boolean","value":true}`)))), nil, list(nAcmeInc)},
		// number_range
		{"number_range inclusive", leads(cfc(ids.cf["Employees"], `{"type":"number_range","gte":50,"lte":500}`)), nil, list(nAcme, nAcmeInc)},
		{"number_range exclusive", leads(cfc(ids.cf["Employees"], `{"type":"number_range","gt":50}`)), nil, list(nAcmeInc, nWayne)},
		{"number_range lt", leads(cfc(ids.cf["Employees"], `{"type":"number_range","lt":50}`)), nil, nil},
		{"addresses_count", leads(fc("lead", "addresses_count", `{"type":"number_range","gte":1}`)), nil, list(nGlobex, nWayne)},
		{"addresses_count gt 1", leads(fc("lead", "addresses_count", `{"type":"number_range","gt":1}`)), nil, list(nWayne)},
		{"emails_count", contacts(fc("contact", "emails_count", `{"type":"number_range","gte":2}`)), nil, list("Lucius Fox")},
		{"phones_count zero", contacts(fc("contact", "phones_count", `{"type":"number_range","lte":0}`)), nil, list("Hank Scorpio", "Jane Doe", "Lucius Fox")},
		// exists
		{"exists date", leads(fc("lead", "last_communication_date", `{"type":"exists"}`)), nil, list(nAcme, nGlobex)},
		{"exists negated", leads(negate(fc("lead", "last_communication_date", `{"type":"exists"}`))), nil, list(nAcmeInc, nTest, nWayne)},
		{"exists text", leads(fc("lead", "url", `{"type":"exists"}`)), nil, list(nAcme)},
		{"exists custom text", leads(cfc(ids.cf["Notes"], `{"type":"exists"}`)), nil, list(nAcme)},
		{"exists custom number", leads(cfc(ids.cf["Annual Revenue"], `{"type":"exists"}`)), nil, list(nWayne)},
		{"exists contact title", contacts(fc("contact", "title", `{"type":"exists"}`)), nil, list("Bruce Wayne", "Hank Scorpio", "Homer Simpson", "Jane Doe", "Lucius Fox")},
		// moment_range, every moment type
		{"fixed_utc on_or_after", leads(created(mrange(fixedUTC(t0.Add(-31*day)), "null"))), nil, list(nAcmeInc, nTest, nWayne)},
		{"fixed_utc before", leads(created(mrange("null", fixedUTC(t0.Add(-31*day))))), nil, list(nAcme, nGlobex)},
		{"now", leads(created(mrange("null", `{"type":"now"}`))), nil, all},
		{"after now", leads(created(mrange(`{"type":"now"}`, "null"))), nil, nil},
		{"offset days snaps to start of day", leads(created(mrange(offset("past", 30, 0, "start"), "null"))), nil, list(nAcmeInc, nTest, nWayne)},
		{"offset days snaps to end of day", leads(created(mrange(offset("past", 30, 0, "end"), "null"))), nil, list(nAcmeInc, nTest)},
		{"offset hours is exact", leads(created(mrange(offset("past", 0, 2, "start"), "null"))), nil, list(nTest)},
		{"offset future", leads(created(mrange("null", offset("future", 1, 0, "end")))), nil, all},
		{"today", leads(created(mrange(period("today", "start"), period("today", "end")))), nil, list(nTest)},
		{"today at UTC-4", leads(created(mrange(period("today", "start"), period("today", "end")))), []string{"x-tz-offset", "-4"}, list(nTest)},
		{"today at UTC+12.5 started after the lead", leads(created(mrange(period("today", "start"), period("today", "end")))), []string{"x-tz-offset", "12.5"}, nil},
		{"yesterday at UTC+12.5", leads(created(mrange(period("yesterday", "start"), period("yesterday", "end")))), []string{"x-tz-offset", "12.5"}, list(nTest)},
		{"yesterday", leads(created(mrange(period("yesterday", "start"), period("yesterday", "end")))), nil, nil},
		{"this_week (Monday start)", leads(created(mrange(period("this_week", "start"), period("this_week", "end")))), nil, list(nTest)},
		{"last_week", leads(created(mrange(period("last_week", "start"), period("last_week", "end")))), nil, nil},
		{"this_month", leads(created(mrange(period("this_month", "start"), period("this_month", "end")))), nil, list(nAcmeInc, nTest)},
		{"this_quarter", leads(created(mrange(period("this_quarter", "start"), "null"))), nil, list(nAcmeInc, nTest, nWayne)},
		{"last_year", leads(created(mrange(period("last_year", "start"), period("last_year", "end")))), nil, list(nAcme)},
		{"this_year", leads(created(mrange(period("this_year", "start"), period("this_year", "end")))), nil, list(nAcmeInc, nTest, nWayne)},
		{"fixed_local_date day", leads(created(mrange(localDate("2026-11-30", "start"), localDate("2026-11-30", "end")))), nil, list(nTest)},
		{"fixed_local_date day at UTC+12.5", leads(created(mrange(localDate("2026-11-30", "start"), localDate("2026-11-30", "end")))), []string{"x-tz-offset", "12.5"}, list(nTest)},
		{"fixed_local_date day at UTC-12", leads(created(mrange(localDate("2026-11-30", "start"), localDate("2026-11-30", "end")))), []string{"x-tz-offset", "-12"}, nil},
		{"custom date field", leads(cfc(ids.cf["Contract Start"], mrange(localDate("2026-01-01", "start"), "null"))), nil, list(nAcme)},
		{"last_communication_date", leads(fc("lead", "last_communication_date", mrange("null", fixedUTC(t0.Add(-365*day))))), nil, list(nGlobex)},
		// has_related, both directions
		{"lead has contact", leads(related("lead", "contact", fc("contact", "title", text("full_words", "ceo")))), nil, list(nAcme, nGlobex)},
		{"lead has contact with email", leads(related("lead", "contact", related("contact", "contact_email", fc("contact_email", "email", text("exact_value", "jane@example.com"))))), nil, list(nAcmeInc)},
		{"lead has email directly", leads(related("lead", "contact_email", fc("contact_email", "type", term("home")))), nil, list(nAcmeInc, nWayne)},
		{"lead has phone", leads(related("lead", "contact_phone", fc("contact_phone", "type", term("mobile")))), nil, list(nAcme)},
		{"lead has address", leads(related("lead", "address", fc("address", "city", text("exact_value", "springfield")))), nil, list(nGlobex)},
		{"phone's contact", leads(related("lead", "contact_phone", related("contact_phone", "contact", fc("contact", "name", text("full_words", "homer"))))), nil, list(nGlobex)},
		{"contact's lead", contacts(related("contact", "lead", fc("lead", "name", text("full_words", "globex")))), nil, list("Hank Scorpio", "Homer Simpson")},
		{"address's lead", leads(related("lead", "address", related("address", "lead", fc("lead", "status_label", term("Qualified"))))), nil, list(nWayne)},
		{"email's contact", contacts(related("contact", "contact_email", related("contact_email", "contact", fc("contact", "title", term("CTO"))))), nil, list("Lucius Fox")},
		{"no contacts", leads(negate(related("lead", "contact", `{"type":"match_all"}`))), nil, list(nTest)},
		// id, object_type, match_all, and/or/negate
		{"id", leads(fmt.Sprintf(`{"type":"id","value":%q}`, ids.globex)), nil, list(nGlobex)},
		{"id negated", leads(negate(fmt.Sprintf(`{"type":"id","value":%q}`, ids.globex))), nil, list(nAcme, nAcmeInc, nTest, nWayne)},
		{"match_all", `{"type":"match_all"}`, nil, all},
		{"match_all negated", negate(`{"type":"match_all"}`), nil, nil},
		{"empty and", `{"type":"and","queries":[]}`, nil, all},
		{"empty or", leads(`{"type":"or","queries":[]}`), nil, nil},
		{"contact object_type on leads", and(`{"type":"object_type","object_type":"lead"}`, or(`{"type":"object_type","object_type":"contact"}`)), nil, nil},
		{"or", leads(or(name(text("exact_value", "test")), fc("lead", "status_label", term("Customer")))), nil, list(nGlobex, nTest)},
		{"negated and", leads(negate(and(name(text("full_words", "acme")), fc("lead", "status_label", term("Potential"))))), nil, list(nAcmeInc, nGlobex, nTest, nWayne)},
		// saved_search
		{"saved search", leads(view("Bad Fit leads")), nil, list(nAcmeInc)},
		{"saved search junk", leads(view("Junk / test leads")), nil, list(nTest)},
		{"saved search no contact in a year", leads(view("No contact in a year")), nil, list(nAcmeInc, nGlobex, nTest, nWayne)},
		{"saved search user-dependent", leads(view("My leads")), nil, list(nAcme, nGlobex, nWayne)},
		{"saved search negated", leads(negate(view("Bad Fit leads"))), nil, list(nAcme, nGlobex, nTest, nWayne)},
		{"contact saved search", contacts(view("CEOs")), nil, list("Bruce Wayne", "Hank Scorpio")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			got := e.names(c.query, c.hdr...)
			sort.Strings(c.want)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("query %s\n got %q\nwant %q", c.query, got, c.want)
			}
		})
	}
}

// TestRejectedQueries: what the sandbox does not know is a 400 whose
// field-errors entry names the construct and where it is, never a 500.
func TestRejectedQueries(t *testing.T) {
	e, ids := evalOrg(t)
	legacy, _ := e.s.SmartViewID("Old string search")
	ceos, _ := e.s.SmartViewID("CEOs")
	cases := []struct {
		name, query string
		hdr         []string
		key         string
		want        string // substring of the field error
	}{
		{"unknown node", leads(`{"type":"geo","near":"x"}`), nil, "query", `unknown query type "geo" at /queries/1`},
		{"unknown condition", leads(fc("lead", "name", `{"type":"geo"}`)), nil, "query", `unknown condition type "geo" at /queries/1/condition`},
		{"unknown field", leads(fc("lead", "favourite_colour", `{"type":"exists"}`)), nil, "query", `unknown field lead.favourite_colour (the sandbox does not model it) at /queries/1/field/field_name`},
		{"unknown field type", leads(`{"type":"field_condition","field":{"type":"smart_field","name":"x"},"condition":{"type":"exists"}}`), nil, "query", `unknown field type "smart_field" at /queries/1/field`},
		{"unknown custom field", leads(cfc("cf_nope", `{"type":"exists"}`)), nil, "query", `unknown custom field cf_nope at /queries/1/field/custom_field_id`},
		{"field of another object", leads(fc("contact", "title", `{"type":"exists"}`)), nil, "query", `field contact.title cannot be used on lead objects`},
		{"unknown moment", leads(fc("lead", "date_created", mrange(`{"type":"next_full_moon"}`, "null"))), nil, "query", `unknown moment type "next_full_moon" at /queries/1/condition/on_or_after`},
		{"unknown period", leads(fc("lead", "date_created", mrange(period("fortnight", "start"), "null"))), nil, "query", `unknown relative period "fortnight" (the sandbox knows today, yesterday`},
		{"text on a number", leads(cfc(ids.cf["Employees"], text("full_words", "5"))), nil, "query", `condition "text" cannot be used with custom field "Employees"`},
		{"number_range on text", leads(fc("lead", "name", `{"type":"number_range","gt":1}`)), nil, "query", `condition "number_range" cannot be used with lead.name (a text field) at /queries/1/condition`},
		{"moment_range on text", leads(fc("lead", "name", mrange(`{"type":"now"}`, "null"))), nil, "query", `condition "moment_range" cannot be used with lead.name`},
		{"boolean on text", leads(fc("lead", "name", `{"type":"boolean","value":true}`)), nil, "query", `condition "boolean" cannot be used`},
		{"wrong reference type", leads(fc("lead", "status_id", `{"type":"reference","reference_type":"user","object_ids":["x"]}`)), nil, "query", `reference_type "user" does not fit lead.status_id`},
		{"current_user on a status", leads(fc("lead", "status_id", `{"type":"current_user"}`)), nil, "query", `needs a user field`},
		{"related siblings", contacts(related("contact", "address", `{"type":"match_all"}`)), nil, "query", `contact objects have no related address objects`},
		{"this_object_type mismatch", leads(related("contact", "lead", `{"type":"match_all"}`)), nil, "query", `this_object_type "contact" does not match the objects filtered here (lead) at /queries/1/this_object_type`},
		{"unknown object_type", and(`{"type":"object_type","object_type":"lead"}`, or(`{"type":"object_type","object_type":"planet"}`)), nil, "query", `object_type "planet" is not supported`},
		{"unsearchable root type", and(`{"type":"object_type","object_type":"task"}`), nil, "query", `object_type "task" cannot be searched`},
		{"missing saved search", leads(`{"type":"saved_search","saved_search_id":"save_nope"}`), nil, "query", `saved search save_nope not found at /queries/1/saved_search_id`},
		{"legacy saved search", leads(fmt.Sprintf(`{"type":"saved_search","saved_search_id":%q}`, legacy)), nil, "query", `has no structured query`},
		{"contact view on leads", leads(fmt.Sprintf(`{"type":"saved_search","saved_search_id":%q}`, ceos)), nil, "query", `is a contact view and cannot filter lead objects`},
		{"grammar error", leads(fc("lead", "name", `{"type":"text","mode":"fuzzy","value":"x"}`)), nil, "query", `/queries/1/condition/mode`},
		{"bad tz", leads(), []string{"x-tz-offset", "Europe/Prague"}, "x-tz-offset", `x-tz-offset must be a number of hours`},
		{"sort by reference", "", nil, "sort", `cannot sort by lead.status_id`},
		{"sort by another object's field", "", nil, "sort", `field contact.title cannot be used on lead objects (use has_related to reach contact fields) at /0/field`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.t = t
			body := fmt.Sprintf(`{"query":%s,"include_counts":true}`, c.query)
			switch c.name {
			case "sort by reference":
				body = `{"query":` + leads() + `,"sort":[{"direction":"asc","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"}}]}`
			case "sort by another object's field":
				body = `{"query":` + leads() + `,"sort":[{"direction":"asc","field":{"type":"regular_field","object_type":"contact","field_name":"title"}}]}`
			}
			msg := e.fieldErr("POST", "/api/v1/data/search/", body, c.key, c.hdr...)
			if !strings.Contains(msg, c.want) {
				t.Errorf("field error %q does not contain %q", msg, c.want)
			}
			// The same query is refused the same way by a bulk delete.
			if c.key == "query" {
				msg := e.fieldErr("POST", "/api/v1/bulk_action/delete/", fmt.Sprintf(`{"s_query":%s}`, c.query), "s_query", c.hdr...)
				if !strings.Contains(msg, c.want) {
					t.Errorf("bulk delete field error %q does not contain %q", msg, c.want)
				}
			}
		})
	}
	if n := len(e.s.Jobs()); n != 0 {
		t.Errorf("rejected queries created %d jobs", n)
	}
}
