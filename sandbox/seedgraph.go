package sandbox

import (
	"math/rand/v2"
	"time"
)

// The demo organization's graph metadata: two pipelines with their
// opportunity statuses, custom activity and object types, sequences, and
// custom fields on contacts and opportunities (one shared by both).
func seedGraphMeta(st *store, r *rand.Rand, start time.Time) {
	sales := pipeline{ID: randID(r, "pipe_"), Name: "Sales"}
	renewals := pipeline{ID: randID(r, "pipe_"), Name: "Renewals"}
	st.pipelines = append(st.pipelines, sales, renewals)
	for _, s := range []struct{ label, typ string }{{"Active", "active"}, {"Demo Scheduled", "active"}, {"Proposal Sent", "active"},
		{"Won", "won"}, {"Lost", "lost"}} {
		st.addOppStatus(oppStatus{ID: randID(r, "stat_"), Label: s.label, Type: s.typ, PipelineID: sales.ID})
	}
	for _, s := range []struct{ label, typ string }{{"Up for Renewal", "active"}, {"Renewed", "won"}, {"Churned", "lost"}} {
		st.addOppStatus(oppStatus{ID: randID(r, "stat_"), Label: s.label, Type: s.typ, PipelineID: renewals.ID})
	}
	st.actTypes = append(st.actTypes, namedType{randID(r, "actitype_"), "Appointment"}, namedType{randID(r, "actitype_"), "Site Visit"})
	st.objTypes = append(st.objTypes, namedType{randID(r, "cotype_"), "Payment"}, namedType{randID(r, "cotype_"), "Subscription"})
	st.sequences = append(st.sequences, namedType{randID(r, "seq_"), "Onboarding"}, namedType{randID(r, "seq_"), "Win-back"})
	st.addObjectCF(&customField{ID: randID(r, "cf_"), Name: "Preferred Channel", Type: "choices", Choices: []string{"Email", "Phone", "SMS"}, Created: start}, uContact)
	st.addObjectCF(&customField{ID: randID(r, "cf_"), Name: "Decision Maker", Type: "choices", Choices: []string{"Yes", "No"}, Created: start}, uContact)
	st.addObjectCF(&customField{ID: randID(r, "cf_"), Name: "Discount", Type: "number", Created: start}, uOpp)
	st.addObjectCF(&customField{ID: randID(r, "cf_"), Name: "Services", Type: "choices", Choices: []string{"Setup", "Training", "Support"}, Multiple: true, Created: start}, uOpp)
	st.addObjectCF(&customField{ID: randID(r, "cf_"), Name: "Region", Type: "choices", Choices: []string{"NA", "EMEA", "APAC"}, Created: start}, uContact, uOpp)
}

// graphSeeder draws each demo lead's graph from its own random stream, so
// the leads, contacts and addresses (and their ids) are the same as
// before the graph existed; its buffers are reused from lead to lead.
type graphSeeder struct {
	r     *rand.Rand
	st    *store
	now   int64
	opps  []OpportunitySpec
	tasks []TaskSpec
	acts  []ActivitySpec
	objs  []CustomObjectSpec
	won   []oppStatus
	lost  []oppStatus
	open  []oppStatus
}

func newGraphSeeder(st *store, seed int64, now time.Time) *graphSeeder {
	g := &graphSeeder{r: rand.New(rand.NewPCG(uint64(seed), 0x9a4f)), st: st, now: now.UnixMicro()}
	for _, o := range st.oppStatuses {
		switch o.Type {
		case "won":
			g.won = append(g.won, o)
		case "lost":
			g.lost = append(g.lost, o)
		default:
			g.open = append(g.open, o)
		}
	}
	return g
}

var (
	emailSubjects = []string{"Quick question", "Following up", "Proposal attached", "Re: pricing", "Intro call next week?",
		"Your trial", "Renewal", "Meeting notes", "Welcome aboard", "Checking in"}
	dispositions = []string{"answered", "answered", "answered", "no-answer", "vm-answer", "busy"}
	noteTexts    = []string{"Spoke with the office manager.", "Left a voicemail.", "Interested, call back in Q3.",
		"Budget frozen until next year.", "Asked for references.", "Not the decision maker."}
	taskTexts = []string{"Follow up", "Send proposal", "Call back", "Schedule demo", "Check in after trial"}
	smsTexts  = []string{"Hi, are you free for a quick call?", "Thanks for your time today!", "Reminder: demo tomorrow at 10"}
	services  = []string{"Setup", "Training", "Support"}
	regions   = []string{"NA", "EMEA", "APAC"}
)

func (g *graphSeeder) between(a, b int64) time.Time {
	if b <= a {
		return time.UnixMicro(a)
	}
	return time.UnixMicro(a + g.r.Int64N(b-a))
}

// lead fills sp's graph: opportunities by lead status, tasks, and
// activities whose latest communication is the lead's
// last_communication_date, so the stored value and the roll-up agree.
func (g *graphSeeder) lead(sp *LeadSpec, status int, junk bool, users []*user) {
	r := g.r
	created := sp.DateCreated.UnixMicro()
	user := func() string { return users[r.IntN(len(users))].ID }
	g.opps, g.tasks, g.acts, g.objs = g.opps[:0], g.tasks[:0], g.acts[:0], g.objs[:0]
	for ci := range sp.Contacts {
		c := &sp.Contacts[ci]
		if junk {
			continue
		}
		if r.IntN(5) == 0 {
			c.URLs = []URLSpec{{URL: "https://www.linkedin.com/in/" + slug(c.Name) + "-" + fmt4[r.IntN(10000)], Type: "linkedin"}}
		}
		if r.IntN(10) < 4 {
			c.Custom = map[string]any{"Preferred Channel": pick(r, []string{"Email", "Phone", "SMS"})}
			if r.IntN(3) == 0 {
				c.Custom["Decision Maker"] = pick(r, []string{"Yes", "No"})
			}
		}
		if r.IntN(20) == 0 {
			seq := pick(r, g.st.sequences)
			c.Subscriptions = []SubscriptionSpec{{ID: randID(r, "sub_"), SequenceID: seq.ID,
				Status: pick(r, []string{"active", "active", "paused", "finished"}), DateCreated: g.between(created, g.now)}}
		}
	}
	if !junk {
		// Opportunities: customers have won ones, canceled leads lost or
		// churned ones, the rest open or lost ones.
		n := 0
		switch status {
		case 3:
			n = 1 + r.IntN(2)
		case 4:
			n = 1
		case 1:
			n = r.IntN(3)
		default:
			if r.IntN(3) == 0 {
				n = 1
			}
		}
		for k := 0; k < n; k++ {
			var st oppStatus
			conf := float64(10 * (1 + r.IntN(9)))
			switch {
			case status == 3 && k == 0:
				st, conf = pick(r, g.won), 100
			case status == 4 || r.IntN(4) == 0:
				st, conf = pick(r, g.lost), 0
			default:
				st = pick(r, g.open)
			}
			dc := g.between(created, g.now)
			du := g.between(dc.UnixMicro(), g.now)
			period := pick(r, []string{"one_time", "one_time", "one_time", "monthly", "monthly", "annual"})
			o := OpportunitySpec{ID: randID(r, "oppo_"), Status: st.ID, User: user(), Contact: 1 + r.IntN(len(sp.Contacts)),
				Value: float64(100 * (500 + r.IntN(50000))), ValuePeriod: period, Confidence: conf,
				DateCreated: dc, DateUpdated: du}
			if r.IntN(3) == 0 {
				o.Note = pick(r, noteTexts)
			}
			if r.IntN(3) == 0 {
				o.Custom = map[string]any{"Services": []string{pick(r, services)}, "Region": pick(r, regions)}
				if r.IntN(2) == 0 {
					o.Custom["Discount"] = float64(5 * (1 + r.IntN(6)))
				}
			}
			g.opps = append(g.opps, o)
		}
		if status == 3 && r.IntN(10) == 0 {
			g.objs = append(g.objs, CustomObjectSpec{ID: randID(r, "custobj_"), TypeID: g.st.objTypes[0].ID,
				Name: "Payment " + fmt4[r.IntN(10000)], DateCreated: g.between(created, g.now)})
		}
	}
	if !junk && r.IntN(10) < 3 {
		due := g.between(created, g.now+int64(30*24*time.Hour/time.Microsecond))
		g.tasks = append(g.tasks, TaskSpec{ID: randID(r, "task_"), AssignedTo: user(), Text: pick(r, taskTexts),
			Complete: due.UnixMicro() < g.now && r.IntN(3) > 0, Due: due, DateCreated: time.UnixMicro(created)})
	}
	if lc := sp.LastCommunicationDate; !lc.IsZero() {
		last := lc.UnixMicro()
		ne, nc := r.IntN(5), r.IntN(3)
		if ne+nc == 0 {
			ne = 1
		}
		for k := 0; k < ne; k++ {
			d := g.between(created, last)
			if k == 0 {
				d = lc
			}
			dir := "outgoing"
			if r.IntN(3) == 0 {
				dir = "incoming"
			}
			g.acts = append(g.acts, ActivitySpec{Type: "Email", ID: randID(r, "acti_"), Contact: 1 + r.IntN(len(sp.Contacts)), User: user(),
				Direction: dir, Status: map[string]string{"outgoing": "sent", "incoming": "inbox"}[dir], Subject: pick(r, emailSubjects),
				DateSent: d, HasReply: r.IntN(4) == 0, DateCreated: d})
		}
		for k := 0; k < nc; k++ {
			d := g.between(created, last)
			if k == 0 && ne == 0 {
				d = lc
			}
			dir := "outbound"
			if r.IntN(4) == 0 {
				dir = "inbound"
			}
			disp := pick(r, dispositions)
			dur := 0.0
			if disp == "answered" {
				dur = float64(30 + r.IntN(1800))
			}
			g.acts = append(g.acts, ActivitySpec{Type: "Call", ID: randID(r, "acti_"), Contact: 1 + r.IntN(len(sp.Contacts)), User: user(),
				Direction: dir, Disposition: disp, Duration: dur, DateCreated: d})
		}
		if r.IntN(5) == 0 {
			d := g.between(created, last)
			g.acts = append(g.acts, ActivitySpec{Type: "SMS", ID: randID(r, "acti_"), Contact: 1, User: user(),
				Direction: pick(r, []string{"outbound", "inbound"}), Text: pick(r, smsTexts), DateSent: d, DateCreated: d})
		}
	}
	if !junk && r.IntN(7) == 0 {
		start := g.between(created, g.now+int64(14*24*time.Hour/time.Microsecond)).Truncate(30 * time.Minute)
		status := "completed"
		switch {
		case start.UnixMicro() > g.now:
			status = "upcoming"
		case r.IntN(8) == 0:
			status = "canceled"
		}
		g.acts = append(g.acts, ActivitySpec{Type: "Meeting", ID: randID(r, "acti_"), Contact: 1, User: user(), Title: "Demo call",
			Status: status, StartsAt: start, EndsAt: start.Add(30 * time.Minute), DateCreated: time.UnixMicro(created)})
	}
	if r.IntN(4) == 0 {
		g.acts = append(g.acts, ActivitySpec{Type: "Note", ID: randID(r, "acti_"), User: user(), Text: pick(r, noteTexts),
			DateCreated: g.between(created, g.now)})
	}
	if !junk && r.IntN(20) == 0 {
		g.acts = append(g.acts, ActivitySpec{Type: "CustomActivity", ID: randID(r, "custact_"), User: user(),
			CustomTypeID: pick(r, g.st.actTypes).ID, DateCreated: g.between(created, g.now)})
	}
	sp.Opportunities, sp.Tasks, sp.Activities, sp.CustomObjects = g.opps, g.tasks, g.acts, g.objs
}
