package sandbox

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The demo organization: realistic names, the five statuses, custom fields
// of each kind, 1–3 contacts per lead with emails and phones, dates over
// the two years before the clock, clusters of duplicates and obvious junk,
// and a few Smart Views. Everything comes from the seed: the same seed and
// clock give the same organization.

var (
	firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen",
		"Christopher", "Lisa", "Daniel", "Nancy", "Matthew", "Betty", "Anthony", "Sandra", "Mark", "Margaret",
		"Steven", "Ashley", "Paul", "Emily", "Andrew", "Donna", "Joshua", "Michelle", "Kenneth", "Carol",
		"Kevin", "Amanda", "Brian", "Melissa", "Priya", "Wei", "Aisha", "Carlos", "Sofia", "Mateo",
		"Yuki", "Olga", "Lars", "Fatima", "Hiroshi", "Ingrid", "Omar", "Chloe", "Diego", "Nadia"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
		"Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
		"Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
		"Patel", "Kim", "Chen", "Müller", "Schmidt", "Rossi", "Novak", "Kowalski", "Andersson", "Okafor"}
	companyFirst = []string{"Blue", "Silver", "North", "Summit", "Bright", "Green", "Red Rock", "Pine", "Harbor", "Golden",
		"Iron", "Cedar", "Maple", "Lakeside", "Pioneer", "Evergreen", "Atlas", "Beacon", "Cobalt", "Crescent",
		"Falcon", "Granite", "Horizon", "Keystone", "Liberty", "Meridian", "Nova", "Orchid", "Prairie", "Quantum",
		"Riverside", "Sterling", "Trident", "Union", "Vertex", "Willow", "Apex", "Coastal", "Everest", "Frontier"}
	companySecond = []string{"Software", "Logistics", "Dental", "Consulting", "Labs", "Foods", "Analytics", "Robotics", "Media", "Health",
		"Capital", "Realty", "Systems", "Energy", "Design", "Solar", "Motors", "Insurance", "Fitness", "Legal",
		"Partners", "Supply", "Studios", "Networks", "Brewing", "Clinic", "Academy", "Outfitters", "Marine", "Pharma"}
	companySuffix = []string{"Inc.", "LLC", "Ltd", "Co.", "Group", "GmbH", "", "", "", "Corp."}
	titles        = []string{"CEO", "CTO", "CFO", "COO", "VP of Sales", "VP Marketing", "Head of Operations", "Office Manager",
		"Sales Manager", "Account Executive", "Procurement Lead", "Founder", "Co-Founder", "Director of IT", "Owner",
		"Marketing Coordinator", "Engineering Manager", "Purchasing Agent", "Practice Manager", ""}
	descriptions = []string{"", "", "Inbound lead from the website contact form.", "Met at the spring trade show.",
		"Referred by an existing customer.", "Interested in the annual plan.", "Evaluating competitors; follow up next quarter.",
		"Small team, budget approved for Q3.", "Imported from a purchased list.", "Asked for a demo of the reporting features.",
		"Renewal discussion pending.", "Churned after the pilot.", "Wants an on-premise option."}
	cities = []struct{ city, state, country, zip string }{
		{"San Francisco", "CA", "US", "94105"}, {"Austin", "TX", "US", "73301"}, {"New York", "NY", "US", "10001"},
		{"Chicago", "IL", "US", "60601"}, {"Denver", "CO", "US", "80202"}, {"Seattle", "WA", "US", "98101"},
		{"Boston", "MA", "US", "02108"}, {"Miami", "FL", "US", "33101"}, {"Toronto", "ON", "CA", "M5H 2N2"},
		{"London", "", "GB", "EC1A 1BB"}, {"Berlin", "", "DE", "10115"}, {"Prague", "", "CZ", "110 00"}}
	streets = []string{"Main St", "Market St", "Oak Ave", "Pine St", "Broadway", "Elm St", "Maple Ave", "2nd Ave", "Park Blvd", "Lake Dr"}

	// duplicateClusters are companies entered several times under
	// slightly different names, the classic cleanup target.
	duplicateClusters = [][]string{
		{"ACME Inc.", "Acme Inc", "ACME, Inc.", "Acme Incorporated", "acme inc"},
		{"Globex Corporation", "Globex Corp", "Globex Corp."},
		{"Initech", "Initech LLC", "INITECH"},
		{"Umbrella Corp", "Umbrella Corporation"},
		{"Wayne Enterprises", "Wayne Enterprises Inc."},
		{"Stark Industries", "Stark Industries Ltd"},
	}
	junkLocals   = []string{"test", "asdf", "noreply", "a"}
	junkContacts = []string{"test", "asdf", "Test User", "", "zzz"}
	// fmt4 are the zero-padded four-digit phone endings.
	fmt4 = func() []string {
		out := make([]string, 10000)
		for i := range out {
			out[i] = fmt.Sprintf("%04d", i)
		}
		return out
	}()
	junkNames = []string{"test", "Test", "asdf", "zzz", "test lead", "Test Company", "aaa", "xxx", "qwerty", "delete me", "asdfasdf", "TEST TEST"}

	statusLabels = []string{"Potential", "Qualified", "Bad Fit", "Customer", "Canceled"}
	// statusWeights are cumulative percentages for statusLabels.
	statusWeights = []int{40, 60, 72, 90, 100}

	industries = []string{"Software", "Healthcare", "Retail", "Manufacturing", "Finance", "Education", "Logistics", "Real Estate"}
	sources    = []string{"Website", "Referral", "Cold Outreach", "Trade Show", "Partner", "Import"}
	phoneTypes = []string{"office", "mobile", "mobile", "home", "direct"}
)

// seedMeta makes the organization's metadata: users, statuses, custom
// fields. It draws from its own stream so an EmptyOrg has the same ids as
// a seeded one.
func seedMeta(st *store, seed int64, now time.Time) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x3e7a))
	st.orgID = randID(r, "orga_")
	st.orgName = "Sandbox Demo Co."
	start := now.AddDate(-3, 0, 0).Truncate(time.Second)
	people := []struct{ first, last string }{{"Alex", "Morgan"}, {"Jordan", "Lee"}, {"Priya", "Patel"}, {"Sam", "Carter"}, {"Maria", "Garcia"}}
	for i, p := range people {
		st.addUser(&user{ID: randID(r, "user_"), FirstName: p.first, LastName: p.last,
			Email: strings.ToLower(p.first+"."+p.last) + "@sandbox-demo.example", Created: start.AddDate(0, i, 0)})
	}
	for _, l := range statusLabels {
		st.addStatus(status{ID: randID(r, "stat_"), Label: l})
	}
	st.addCustomField(&customField{ID: randID(r, "cf_"), Name: "Industry", Type: "choices", Choices: industries, Created: start})
	st.addCustomField(&customField{ID: randID(r, "cf_"), Name: "Lead Source", Type: "choices", Choices: sources, Created: start})
	st.addCustomField(&customField{ID: randID(r, "cf_"), Name: "Notes", Type: "text", Created: start})
	st.addCustomField(&customField{ID: randID(r, "cf_"), Name: "Employees", Type: "number", Created: start})
	st.addCustomField(&customField{ID: randID(r, "cf_"), Name: "Annual Revenue", Type: "number", Created: start})
	st.addCustomField(&customField{ID: randID(r, "cf_"), Name: "Contract Start", Type: "date", Created: start})
	seedGraphMeta(st, r, start)
	st.idRand = rand.New(rand.NewPCG(uint64(seed), 0xadd1ead))
}

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func slug(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') {
			b.WriteRune(c)
		}
	}
	return b.String()
}

var umlauts = strings.NewReplacer("ü", "u", "ö", "o", "ä", "a")

// emailLocal lowercases a name for an email address (Müller → muller).
func emailLocal(s string) string { return umlauts.Replace(strings.ToLower(s)) }

var (
	firstLocal = mapStrings(firstNames, emailLocal)
	lastLocal  = mapStrings(lastNames, emailLocal)
)

func mapStrings(in []string, f func(string) string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = f(s)
	}
	return out
}

// seedLeads adds n demo leads. About 3% are duplicates from
// duplicateClusters and 1.5% junk.
func seedLeads(st *store, seed int64, n int, now time.Time) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x1ead5))
	st.idRand = r
	st.reserve(n)
	nowMicro := now.UnixMicro()
	span2y := int64(730 * 24 * time.Hour / time.Microsecond)
	users := st.users
	cfIndustry, cfSource, cfNotes, cfEmployees, cfRevenue, cfStart := 0, 1, 2, 3, 4, 5
	custom := make([]any, len(st.cfs))
	in := leadInput{spec: &LeadSpec{}, custom: custom, created: now}
	// The spec and its slices are reused from lead to lead: insertLead
	// keeps the strings, never the slices.
	var sp LeadSpec
	contactBuf := make([]ContactSpec, 3)
	addrBuf := make([]AddressSpec, 1)
	var phone []byte
	graph := newGraphSeeder(st, seed, now)
	for k := 0; k < n; k++ {
		sp = LeadSpec{}
		kindRoll := r.IntN(1000)
		junk := kindRoll < 15
		dup := !junk && kindRoll < 45
		var domain string
		switch {
		case junk:
			sp.Name = pick(r, junkNames)
			domain = pick(r, []string{"test.com", "asdf.com", "example.com", "mailinator.com"})
		case dup:
			cl := pick(r, duplicateClusters)
			sp.Name = pick(r, cl)
			domain = slug(strings.Fields(cl[0])[0]) + ".com"
		default:
			first, second := pick(r, companyFirst), pick(r, companySecond)
			sp.Name = strings.TrimSpace(first + " " + second + " " + pick(r, companySuffix))
			domain = slug(first+second) + ".com"
		}
		if !junk && r.IntN(10) < 7 {
			sp.URL = "https://www." + domain
		}
		if !junk {
			sp.Description = pick(r, descriptions)
		}
		created := nowMicro - r.Int64N(span2y)
		sp.DateCreated = time.UnixMicro(created)
		sp.DateUpdated = time.UnixMicro(created + r.Int64N(nowMicro-created+1))
		if !junk && r.IntN(10) < 8 {
			sp.LastCommunicationDate = time.UnixMicro(created + r.Int64N(nowMicro-created+1))
		}
		roll := r.IntN(100)
		status := 0
		for status < len(statusWeights)-1 && roll >= statusWeights[status] {
			status++
		}
		if junk {
			status = 2 // Bad Fit, mostly
			if r.IntN(3) == 0 {
				status = 0
			}
		}
		creator := users[r.IntN(len(users))].ID
		sp.CreatedBy, sp.UpdatedBy = creator, users[r.IntN(len(users))].ID

		nc := 1 + r.IntN(3)
		sp.Contacts = contactBuf[:nc]
		for ci := range sp.Contacts {
			c := &sp.Contacts[ci]
			emails, phones := c.Emails[:0], c.Phones[:0]
			*c = ContactSpec{Emails: emails, Phones: phones}
			fi, li := r.IntN(len(firstNames)), r.IntN(len(lastNames))
			first, last := firstNames[fi], lastNames[li]
			if junk {
				c.Name = pick(r, junkContacts)
				c.Emails = append(c.Emails, EmailSpec{Email: pick(r, junkLocals) + "@" + domain})
			} else {
				c.Name = first + " " + last
				c.Title = pick(r, titles)
				ne := r.IntN(3)
				if ci == 0 && ne == 0 {
					ne = 1
				}
				for e := 0; e < ne; e++ {
					local := firstLocal[fi] + "." + lastLocal[li]
					typ := "office"
					dom := domain
					if e == 1 {
						local, typ, dom = firstLocal[fi]+lastLocal[li]+strconv.Itoa(r.IntN(100)), "home", pick(r, []string{"gmail.com", "outlook.com", "yahoo.com"})
					}
					c.Emails = append(c.Emails, EmailSpec{Email: local + "@" + dom, Type: typ, Unsubscribed: r.IntN(20) == 0})
				}
				for p := r.IntN(3); p > 0; p-- {
					phone = append(phone[:0], "+1"...)
					phone = strconv.AppendInt(phone, int64(200+r.IntN(800)), 10)
					phone = append(phone, "555"...)
					phone = append(phone, fmt4[r.IntN(10000)]...)
					c.Phones = append(c.Phones, PhoneSpec{Phone: string(phone), Type: pick(r, phoneTypes)})
				}
			}
			c.DateCreated = time.UnixMicro(created + r.Int64N(int64(time.Hour/time.Microsecond)))
		}
		if !junk && r.IntN(10) < 6 {
			city := pick(r, cities)
			sp.Addresses = addrBuf[:1]
			sp.Addresses[0] = AddressSpec{Label: "business", Address1: fmt.Sprintf("%d %s", 1+r.IntN(9999), pick(r, streets)),
				City: city.city, State: city.state, Zipcode: city.zip, Country: city.country}
			if r.IntN(8) == 0 {
				sp.Addresses[0].Address2 = fmt.Sprintf("Suite %d", 100+r.IntN(900))
			}
		}
		for i := range custom {
			custom[i] = nil
		}
		if !junk {
			if r.IntN(10) < 8 {
				custom[cfIndustry] = pick(r, industries)
			}
			if r.IntN(10) < 7 {
				custom[cfSource] = pick(r, sources)
			}
			if r.IntN(4) == 0 {
				custom[cfNotes] = pick(r, []string{"Decision maker is on vacation until next month.", "Prefers email over calls.",
					"Budget cycle starts in January.", "Uses a competitor today.", "Asked not to be contacted before Q2."})
			}
			if r.IntN(10) < 6 {
				custom[cfEmployees] = float64(1 + r.IntN(5000))
			}
			if r.IntN(10) < 4 {
				custom[cfRevenue] = float64(10_000 * (1 + r.IntN(2000)))
			}
			if status == 3 && r.IntN(10) < 8 {
				custom[cfStart] = time.UnixMicro(created + r.Int64N(nowMicro-created+1)).UTC().Truncate(24 * time.Hour)
			}
		} else {
			custom[cfSource] = "Import"
		}
		graph.lead(&sp, status, junk, users)
		in.spec = &sp
		in.status = status
		st.insertLead(in)
	}
}

// seedViews adds the Smart Views: "All Leads" (Close's own shape), the
// three cleanup views, a user-dependent one, a contact view, and a legacy
// string view whose s_query is null.
func seedViews(st *store, now time.Time) {
	h := fnv.New64a()
	h.Write([]byte(st.orgID))
	r := rand.New(rand.NewPCG(h.Sum64(), 0x5a7e))
	created := now.AddDate(0, -6, 0).Truncate(time.Second)
	owner := st.users[0].ID
	wrap := func(q string) json.RawMessage {
		return json.RawMessage(`{"query":` + q + `,"results_limit":null,"sort":[]}`)
	}
	f := false
	t := true
	add := func(name, typ string, sq json.RawMessage, dep *bool, desc string) {
		v := &smartView{ID: randID(r, "save_"), Name: name, Type: typ, SQuery: sq, IsShared: true, IsUserDependent: dep, Created: created}
		if desc != "" {
			v.Description = strPtr(desc)
		}
		st.addView(v)
	}
	add("All Leads", "lead", wrap(`{"negate":false,"type":"match_all"}`), &f, "")
	if s, ok := st.statusByLabel("Bad Fit"); ok {
		add("Bad Fit leads", "lead", wrap(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
			`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},`+
			`"condition":{"type":"reference","reference_type":"status.lead","object_ids":["`+s.ID+`"]},"negate":false}]}`), &f,
			"Leads in the Bad Fit status")
	}
	var junk []string
	for _, n := range []string{"test", "asdf", "zzz", "qwerty", "xxx", "aaa", "delete me"} {
		junk = append(junk, `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},`+
			`"condition":{"type":"text","mode":"exact_value","value":"`+n+`"}}`)
	}
	junk = append(junk, `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},`+
		`"condition":{"type":"text","mode":"full_words","value":"test"}}`)
	add("Junk / test leads", "lead", wrap(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"or","queries":[`+strings.Join(junk, ",")+`]}]}`), &f, "Obvious junk: test, asdf, zzz and the like")
	add("No contact in a year", "lead", wrap(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"last_communication_date"},`+
		`"condition":{"type":"moment_range","on_or_after":{"type":"offset","direction":"past","moment":{"type":"now"},`+
		`"offset":{"years":1,"months":0,"weeks":0,"days":0,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"},"before":null},"negate":true}]}`), &f,
		"Leads with no communication in the last 12 months (or none at all)")
	v := &smartView{ID: randID(r, "save_"), Name: "My leads", Type: "lead", IsShared: false, IsUserDependent: &t, UserID: &owner, Created: created,
		SQuery: wrap(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},` +
			`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"created_by"},` +
			`"condition":{"type":"reference","reference_type":"user","object_ids":["CURRENT_USER"]}}]}`)}
	st.addView(v)
	add("CEOs", "contact", wrap(`{"type":"and","queries":[{"type":"object_type","object_type":"contact"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"contact","field_name":"title"},`+
		`"condition":{"type":"text","mode":"full_words","value":"CEO"}}]}`), &f, "")
	legacy := &smartView{ID: randID(r, "save_"), Name: "Old string search", Type: "lead", Query: strPtr("*"), IsShared: true, IsUserDependent: nil, Created: created}
	st.addView(legacy)
}
