package guards

import (
	"context"
	"strings"
	"testing"
)

// TestPlanLeftClaimed: a plan whose claim was never settled (its answer
// was lost, or the finish failed while the store was down) stays claimed;
// a create of it is refused as plan_in_use with a message that does not
// claim another create is running, says when the plan is freed and what
// to do, and sends nothing to Close; once the plan expires it is refused
// as expired.
func TestPlanLeftClaimed(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.addLeads("stuckword", 2)
	p := h.preview(input(t, nameQuery("stuckword"), ""))
	// The claim of a create whose answer never came back.
	if _, _, err := h.g.store.Claim(context.Background(), p.PlanID); err != nil {
		t.Fatal(err)
	}
	_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
	r := refusalOf(t, err, CodePlanInUse)
	for _, want := range []string{
		"another one may be executing it",
		"an earlier attempt could not record its outcome",
		"until it expires at " + p.ExpiresAt.UTC().Format("2006-01-02T15:04:05Z"),
		"Nothing was deleted",
		"list_bulk_deletes",
		"preview_bulk_delete again",
	} {
		if !strings.Contains(r.Error(), want) {
			t.Errorf("refusal %q lacks %q", r.Error(), want)
		}
	}
	if n := len(h.createBodies()); n != 0 {
		t.Fatalf("%d creates reached Close", n)
	}
	h.clock.Advance(DefaultPlanTTL)
	_, err = h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
	wantRefusal(t, err, CodePlanExpired)
}
