package tools

import (
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
)

// TestFullFlowElicitation runs preview → create (confirmed through the
// client's form) → get until done, over in-process and real stdio pipes, in
// both protocol eras, and checks that exactly the previewed leads are gone.
// Not parallel: the stdio connector shares mcp-go's one stdio session.
func TestFullFlowElicitation(t *testing.T) {
	for _, conn := range connectors {
		for _, e := range eras {
			t.Run(conn.name+"/"+e.name, func(t *testing.T) {
				f := newFixture(t, fixtureOpts{})
				ids, q := f.pickLeads(3)
				before := f.sb.NumLeads()
				who := readingForm()
				c := conn.connect(t, f.srv, e, who)

				p := preview(t, c, map[string]any{"s_query": q})
				if p.Total != 3 || p.WillDelete != 3 || !p.Executable || p.PlanID == "" {
					t.Fatalf("preview = %+v", p)
				}
				if p.ConfirmationPhrase != "DELETE 3 LEADS" {
					t.Fatalf("phrase = %q", p.ConfirmationPhrase)
				}
				if len(p.Sample) != 3 {
					t.Fatalf("sample = %+v", p.Sample)
				}

				var cr createResult
				structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID}), &cr)
				if who.times() != 1 {
					t.Fatalf("the person was asked %d times, want 1", who.times())
				}
				asked := who.last()
				if !strings.Contains(asked.Params.Message, "DELETE 3 LEADS") || !strings.Contains(asked.Params.Message, p.Sample[0].DisplayName) {
					t.Fatalf("the form did not show the phrase and the sample: %q", asked.Params.Message)
				}
				if cr.Receipt.ConfirmedBy != guards.ConfirmedByElicitation || cr.Receipt.ResultsLimitSent != 3 || cr.Receipt.PlanID != p.PlanID || cr.Receipt.AuditID == "" {
					t.Fatalf("receipt = %+v", cr.Receipt)
				}
				j := waitDone(t, c, cr.Job.ID)
				if j.Job.StatusString() != "done" || j.Progress.Processed != 3 {
					t.Fatalf("job = %+v %+v", j.Job, j.Progress)
				}
				for _, id := range ids {
					if f.sb.HasLead(id) {
						t.Fatalf("lead %s was previewed and confirmed but is still there", id)
					}
				}
				if got := f.sb.NumLeads(); got != before-3 {
					t.Fatalf("leads: %d → %d, want exactly 3 fewer", before, got)
				}
			})
		}
	}
}

// TestElicitationAnswers: anything but accept with the exact phrase is an
// isError refusal, and nothing reaches Close's bulk-delete endpoint.
func TestElicitationAnswers(t *testing.T) {
	cases := []struct {
		name   string
		person func() *person
		code   string
		want   string
	}{
		{"wrong phrase", func() *person { return typing("DELETE 4 LEADS") }, guards.CodeConfirmationMismatch, `typed "DELETE 4 LEADS"`},
		{"lower case", func() *person { return typing("delete 3 leads") }, guards.CodeConfirmationMismatch, "not the confirmation phrase"},
		{"empty", func() *person { return typing("") }, guards.CodeConfirmationMismatch, "did not type"},
		{"decline", func() *person { return answering(mcp.ElicitationResponseActionDecline) }, guards.CodeConfirmationMissing, "declined"},
		{"cancel", func() *person { return answering(mcp.ElicitationResponseActionCancel) }, guards.CodeConfirmationMissing, "cancelled"},
	}
	for _, conn := range connectors {
		for _, e := range eras {
			for _, tc := range cases {
				t.Run(conn.name+"/"+e.name+"/"+tc.name, func(t *testing.T) {
					f := newFixture(t, fixtureOpts{})
					ids, q := f.pickLeads(2)
					who := tc.person()
					c := conn.connect(t, f.srv, e, who)
					p := preview(t, c, map[string]any{"s_query": q})
					res := call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID})
					wantRefusal(t, res, tc.code)
					wantError(t, res, tc.want, "Nothing was deleted")
					if who.times() != 1 {
						t.Fatalf("asked %d times", who.times())
					}
					f.wantCreates(t, 0)
					// The person's "no" is on the audit record like the guard's own refusals.
					recs, err := guards.ReadAuditLog(f.audit)
					if err != nil {
						t.Fatal(err)
					}
					last := recs[len(recs)-1]
					if last.Event != guards.EventRefusal || last.Code != tc.code || last.PlanID != p.PlanID {
						t.Fatalf("last audit record = %+v, want a %s refusal of %s", last, tc.code, p.PlanID)
					}
					for _, id := range ids {
						if !f.sb.HasLead(id) {
							t.Fatalf("lead %s is gone", id)
						}
					}
					// The plan is untouched: the person can still confirm (on
					// a second, in-process client: one stdio session at a time).
					c2 := inProcess(t, f.srv, e, readingForm())
					var cr createResult
					structured(t, call(t, c2, ToolCreate, map[string]any{"plan_id": p.PlanID}), &cr)
					if cr.Receipt.ConfirmedBy != guards.ConfirmedByElicitation {
						t.Fatalf("receipt = %+v", cr.Receipt)
					}
				})
			}
		}
	}
}

// TestElicitingClientStillAsked: a client that can show the form is always
// asked, even when the model filled in confirm itself.
func TestElicitingClientStillAsked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	_, q := f.pickLeads(2)
	who := answering(mcp.ElicitationResponseActionDecline)
	c := inProcess(t, f.srv, eras[1], who)
	p := preview(t, c, map[string]any{"s_query": q})
	res := call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase})
	wantRefusal(t, res, guards.CodeConfirmationMissing)
	if who.times() != 1 {
		t.Fatalf("the person was asked %d times, want 1", who.times())
	}
}

// TestPhraseConfirmation: a client without elicitation confirms with the
// confirm argument; a missing or wrong one is refused, and with
// --confirm=elicit it is refused outright.
func TestPhraseConfirmation(t *testing.T) {
	t.Parallel()
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{})
			ids, q := f.pickLeads(2)
			c := inProcess(t, f.srv, e, nil)
			p := preview(t, c, map[string]any{"s_query": q})

			wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID}), guards.CodeConfirmationMissing)
			wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": "DELETE 2 LEAD"}), guards.CodeConfirmationMismatch)
			f.wantCreates(t, 0)
			var cr createResult
			structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": "DELETE 2 LEADS"}), &cr)
			if cr.Receipt.ConfirmedBy != guards.ConfirmedByPhrase {
				t.Fatalf("receipt = %+v", cr.Receipt)
			}
			waitDone(t, c, cr.Job.ID)
			for _, id := range ids {
				if f.sb.HasLead(id) {
					t.Fatalf("lead %s still there", id)
				}
			}
		})
	}
	t.Run("confirm=elicit", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, fixtureOpts{confirm: guards.ConfirmElicit})
		_, q := f.pickLeads(2)
		c := inProcess(t, f.srv, eras[0], nil)
		p := preview(t, c, map[string]any{"s_query": q})
		wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), guards.CodeElicitationRequired)
		f.wantCreates(t, 0)
		// The same server confirms through a client that can elicit.
		c2 := inProcess(t, f.srv, eras[0], readingForm())
		var cr createResult
		structured(t, call(t, c2, ToolCreate, map[string]any{"plan_id": p.PlanID}), &cr)
		if cr.Receipt.ConfirmedBy != guards.ConfirmedByElicitation {
			t.Fatalf("receipt = %+v", cr.Receipt)
		}
	})
	// --confirm=phrase: a client that declares elicitation is never shown
	// a form (some answer cancel without showing it); the typed phrase in
	// confirm is the only way, in both eras.
	for _, e := range eras {
		t.Run("confirm=phrase/"+e.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, fixtureOpts{confirm: guards.ConfirmPhrase})
			ids, q := f.pickLeads(2)
			who := answering(mcp.ElicitationResponseActionCancel)
			c := inProcess(t, f.srv, e, who)
			p := preview(t, c, map[string]any{"s_query": q})
			wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID}), guards.CodeConfirmationMissing)
			var cr createResult
			structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &cr)
			if cr.Receipt.ConfirmedBy != guards.ConfirmedByPhrase || who.times() != 0 {
				t.Fatalf("receipt = %+v after %d forms; want the phrase and no form", cr.Receipt, who.times())
			}
			waitDone(t, c, cr.Job.ID)
			for _, id := range ids {
				if f.sb.HasLead(id) {
					t.Fatalf("lead %s still there", id)
				}
			}
		})
	}
}

// TestUrlOnlyClientNotSentForm: a client that declared only URL-mode
// elicitation must not be sent a form (spec); it is treated as unable to
// elicit.
func TestUrlOnlyClientNotSentForm(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	_, q := f.pickLeads(1)
	who := readingForm()
	opts := append(clientOpts(eras[0], who), client.WithClientCapabilities(mcp.ClientCapabilities{
		Elicitation: &mcp.ElicitationCapability{URL: &struct{}{}},
	}))
	c, err := client.NewInProcessClientWithOptions(f.srv, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	initialize(t, c, eras[0])
	p := preview(t, c, map[string]any{"s_query": q})
	wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID}), guards.CodeConfirmationMissing)
	if who.times() != 0 {
		t.Fatalf("a url-only client was sent a form")
	}
}
