package guards

import (
	"context"
	"testing"
)

// TestSubjectOnAudit: the person an authorization server vouched for is on
// every audit record of what they confirmed (a refused confirmation too),
// and nobody is named when nobody vouched.
func TestSubjectOnAudit(t *testing.T) {
	h, job := startSlowJob(t)
	ctx := WithSubject(context.Background(), "user-42")

	h.addLeads("Subjecto", 2)
	p := h.preview(input(t, nameQuery("Subjecto"), ""))
	_, err := h.g.Create(ctx, h.cl, p.PlanID, Confirmation{By: ConfirmedByPhrase, Phrase: "DELETE 1 LEAD"})
	wantRefusal(t, err, CodeConfirmationMismatch)
	if _, err := h.g.Create(ctx, h.cl, p.PlanID, phrase(p)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.g.Pause(context.Background(), h.cl, job.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.g.Resume(ctx, h.cl, job.ID, Confirmation{By: ConfirmedByPhrase, Phrase: "RESUME " + job.ID}); err != nil {
		t.Fatal(err)
	}

	counts := map[string]int{}
	for _, r := range h.audit() {
		ours := r.PlanID == p.PlanID || (r.JobID == job.ID && r.Event == EventResume)
		switch {
		case ours && r.Event != EventPreview:
			if r.Subject != "user-42" {
				t.Errorf("%s record %s has subject %q, want user-42", r.Event, r.ID, r.Subject)
			}
			counts[r.Event]++
		case r.Subject != "":
			t.Errorf("%s record %s names %q, but that call had no subject", r.Event, r.ID, r.Subject)
		}
	}
	for _, ev := range []string{EventRefusal, EventCreateIntent, EventCreate, EventResume} {
		if counts[ev] == 0 {
			t.Errorf("no %s record with the subject (records: %v)", ev, counts)
		}
	}
	if got := Subject(WithSubject(context.Background(), "")); got != "" {
		t.Errorf("an empty subject reads back as %q", got)
	}
}
