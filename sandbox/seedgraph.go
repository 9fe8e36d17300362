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
