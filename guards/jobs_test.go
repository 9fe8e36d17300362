package guards

import (
	"context"
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/sandbox"
)

// startSlowJob starts a job that deletes one lead per second out of 30, so
// it is still running while the test pauses and resumes it.
func startSlowJob(t *testing.T) (*harness, *closeapi.BulkDelete) {
	t.Helper()
	h := newHarness(t, harnessOpts{sandbox: sandbox.Options{DeleteRate: 1, BatchSize: 1}})
	h.addLeads("Slowcorp", 30)
	p := h.preview(input(t, nameQuery("Slowcorp"), ""))
	ex, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
	if err != nil {
		t.Fatal(err)
	}
	return h, ex.Job
}

func TestPauseResume(t *testing.T) {
	ctx := context.Background()
	h, job := startSlowJob(t)

	// Resume of a running job: refused.
	_, err := h.g.BeginResume(ctx, h.cl, job.ID)
	wantRefusal(t, err, CodeJobNotPaused)
	_, err = h.g.Resume(ctx, h.cl, job.ID, Confirmation{By: ConfirmedByPhrase, Phrase: "RESUME " + job.ID})
	wantRefusal(t, err, CodeJobNotPaused)

	paused, err := h.g.Pause(ctx, h.cl, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if paused.StatusString() != "paused" {
		t.Fatalf("status after pause %q", paused.StatusString())
	}
	// Pausing again changes nothing and sends no update.
	h.sb.ResetRequests()
	again, err := h.g.Pause(ctx, h.cl, job.ID)
	if err != nil || again.StatusString() != "paused" {
		t.Fatalf("second pause: %v %v", again, err)
	}
	if n := h.sb.Requests("PUT", "/"); n != 0 {
		t.Errorf("second pause sent %d updates", n)
	}

	pending, err := h.g.BeginResume(ctx, h.cl, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pending.Phrase != "RESUME "+job.ID || pending.Purpose != PurposeResume || pending.Target != job.ID || pending.Job == nil ||
		!strings.Contains(pending.Message, pending.Phrase) {
		t.Fatalf("pending %+v", pending)
	}

	// Confirmation rules as for create; none of these reach the PUT.
	h.sb.ResetRequests()
	for _, c := range []struct {
		conf Confirmation
		code string
	}{
		{Confirmation{By: ConfirmedByPhrase, Phrase: "RESUME"}, CodeConfirmationMismatch},
		{Confirmation{By: ConfirmedByPhrase}, CodeConfirmationMissing},
		{Confirmation{By: "", Phrase: pending.Phrase}, CodeConfirmationInvalid},
	} {
		_, err := h.g.Resume(ctx, h.cl, job.ID, c.conf)
		wantRefusal(t, err, c.code)
	}
	elicitOnly := h.newGuard(Policy{Confirm: ConfirmElicit})
	_, err = elicitOnly.Resume(ctx, h.cl, job.ID, Confirmation{By: ConfirmedByPhrase, Phrase: pending.Phrase})
	wantRefusal(t, err, CodeElicitationRequired)
	if n := h.sb.Requests("PUT", "/"); n != 0 {
		t.Fatalf("%d updates sent by refused resumes", n)
	}

	resumed, err := h.g.Resume(ctx, h.cl, job.ID, Confirmation{By: ConfirmedByElicitation, Phrase: pending.Phrase})
	if err != nil {
		t.Fatal(err)
	}
	if st := resumed.StatusString(); st != "resuming" && st != "processing" {
		t.Errorf("status after resume %q", st)
	}
	// Stop it again so the sandbox can shut down quickly.
	h.waitStatus(job.ID, "processing", "resuming")
	if _, err := h.g.Pause(ctx, h.cl, job.ID); err != nil {
		t.Fatal(err)
	}

	var events []string
	for _, r := range h.audit() {
		if r.JobID == job.ID && (r.Event == EventPause || r.Event == EventResume) {
			events = append(events, r.Event+":"+r.Outcome)
			if r.Principal != h.cl.Principal() || r.ObjectType != "lead" {
				t.Errorf("record %+v", r)
			}
		}
	}
	want := "pause:paused pause:already_paused resume:resuming resume:resumed pause:paused"
	if got := strings.Join(events, " "); got != want {
		t.Errorf("audit events %q, want %q", got, want)
	}
}

func TestJobRefusals(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	h.addLeads("Donecorp", 2)
	p := h.preview(input(t, nameQuery("Donecorp"), ""))
	ex, err := h.g.Create(ctx, h.cl, p.PlanID, phrase(p))
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(ex.Job.ID, "done")

	conf := func(id string) Confirmation { return Confirmation{By: ConfirmedByPhrase, Phrase: "RESUME " + id} }
	pause := func(id string) error { _, err := h.g.Pause(ctx, h.cl, id); return err }
	resume := func(id string) error { _, err := h.g.Resume(ctx, h.cl, id, conf(id)); return err }
	beginResume := func(id string) error { _, err := h.g.BeginResume(ctx, h.cl, id); return err }
	type jobCase struct {
		name string
		id   string
		call func(id string) error
		code string
	}
	tests := []jobCase{
		{"pause finished", ex.Job.ID, pause, CodeJobFinished},
		{"resume finished", ex.Job.ID, resume, CodeJobNotPaused},
		{"begin resume finished", ex.Job.ID, beginResume, CodeJobNotPaused},
		{"pause unknown", "bulkdelete_doesnotexist", pause, CodeJobNotFound},
		{"begin resume unknown", "bulkdelete_doesnotexist", beginResume, CodeJobNotFound},
	}
	for _, id := range []string{"", "lead_abc", "bulkdelete_", "bulkdelete_a/../b", "bulkdelete_x?y=1", strings.Repeat("bulkdelete_a", 20)} {
		tests = append(tests,
			jobCase{"pause invalid " + id, id, pause, CodeJobInvalidID},
			jobCase{"resume invalid " + id, id, resume, CodeJobInvalidID},
			jobCase{"begin resume invalid " + id, id, beginResume, CodeJobInvalidID})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.sb.ResetRequests()
			r := refusalOf(t, tc.call(tc.id), tc.code)
			if r.Next == "" {
				t.Error("no next step")
			}
			if tc.code == CodeJobInvalidID && h.requests() != 0 {
				t.Error("an invalid id reached Close")
			}
			if h.sb.Requests("PUT", "/") != 0 {
				t.Error("an update was sent")
			}
		})
	}
}
