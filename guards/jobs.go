package guards

import (
	"context"
	"fmt"
	"slices"

	"github.com/bulkguard/bulkguard/closeapi"
)

// Bulk delete job statuses (docs/close-api.md §1.3). JobStatuses is the one
// list of them: the tools' status filter, its schema and the guard's checks
// all derive from it.
const (
	JobCreated    = "created"
	JobLoading    = "loading"
	JobProcessing = "processing"
	JobDone       = "done"
	JobPaused     = closeapi.StatusPaused
	JobResuming   = closeapi.StatusResuming
	JobError      = "error"
)

var jobStatuses = []string{JobCreated, JobLoading, JobProcessing, JobDone, JobPaused, JobResuming, JobError}

// JobStatuses returns every status a bulk delete job can have, in the order
// a job goes through them (a copy: callers may not change the list).
func JobStatuses() []string { return slices.Clone(jobStatuses) }

// JobFinished reports whether a job in this status will delete nothing more
// (done or error); a paused job may still be resumed.
func JobFinished(status string) bool { return status == JobDone || status == JobError }

func jobRecord(principal, jobID string, j *closeapi.BulkDelete) AuditRecord {
	r := AuditRecord{Principal: principal, JobID: jobID}
	if j != nil {
		r.ObjectType = j.BulkObjectType
		if j.NObjects != nil {
			r.Total = intp(*j.NObjects)
		}
		if j.ResultsLimit != nil {
			r.WillDelete = intp(*j.ResultsLimit)
		}
	}
	return r
}

// loadJob validates the id (before it goes into a URL) and reads the job;
// a bad id and an unknown job are refusals, other failures errors.
func (g *Guard) loadJob(ctx context.Context, cl *closeapi.Client, jobID, verb string) (*closeapi.BulkDelete, error) {
	rec := AuditRecord{Principal: cl.Principal(), JobID: jobID}
	if err := closeapi.ValidateBulkDeleteID(jobID); err != nil {
		rec.JobID = ""
		rec.Reason = fmt.Sprintf("invalid id %q", Clip(jobID, 80))
		return nil, g.refuse(&Refusal{Code: CodeJobInvalidID, Pointer: "/id",
			Problem: fmt.Sprintf("%q is not a bulk delete id (they look like bulkdelete_…)", Clip(jobID, 80)),
			Next:    "Take the id from create_bulk_delete's result or from list_bulk_deletes, then call " + verb + " again."}, rec)
	}
	job, err := cl.GetBulkDelete(ctx, jobID)
	if closeapi.IsNotFound(err) {
		return nil, g.refuse(&Refusal{Code: CodeJobNotFound, Pointer: "/id",
			Problem: "Close has no bulk delete " + jobID + " visible to this credential",
			Next:    "Check the id with list_bulk_deletes, then call " + verb + " again."}, rec)
	}
	if err != nil {
		return nil, &Error{Op: "read bulk delete " + jobID, Err: err}
	}
	return job, nil
}

// BeginResume checks that the job exists and is paused and says what the
// person must confirm ("RESUME <id>"). It makes one Close request and
// changes nothing.
func (g *Guard) BeginResume(ctx context.Context, cl *closeapi.Client, jobID string) (*Pending, error) {
	job, err := g.loadJob(ctx, cl, jobID, "resume_bulk_delete")
	if err != nil {
		return nil, err
	}
	if r := notPausedRefusal(job); r != nil {
		return nil, g.refuse(r, jobRecord(cl.Principal(), jobID, job))
	}
	phrase := resumePhrase(jobID)
	return &Pending{
		Job:     job,
		Phrase:  phrase,
		Message: resumeMessage(job, phrase),
		Purpose: PurposeResume,
		Target:  jobID,
	}, nil
}

func resumeMessage(j *closeapi.BulkDelete, phrase string) string {
	progress := fmt.Sprintf("%d objects deleted so far", j.NObjectsProcessed)
	if j.NObjects != nil {
		progress = fmt.Sprintf("%d of %d objects deleted so far", j.NObjectsProcessed, *j.NObjects)
	}
	return fmt.Sprintf("Resuming bulk delete %s continues deleting %s objects (%s). Deleted objects cannot be restored. Type %s to confirm.",
		j.ID, j.BulkObjectType, progress, phrase)
}

func notPausedRefusal(j *closeapi.BulkDelete) *Refusal {
	st := j.StatusString()
	if st == JobPaused {
		return nil
	}
	shown := st
	if shown == "" {
		shown = "unknown"
	}
	return &Refusal{Code: CodeJobNotPaused, Pointer: "/id",
		Problem: fmt.Sprintf("bulk delete %s is %s, not paused, so there is nothing to resume", j.ID, shown),
		Next:    "Check its progress with get_bulk_delete; only a paused job can be resumed."}
}

// Resume re-checks the job (still paused), checks the confirmation
// ("RESUME <id>", same rules as create) and sets it resuming. The intent
// is recorded first: resuming deletes, so an unrecordable resume is
// refused.
func (g *Guard) Resume(ctx context.Context, cl *closeapi.Client, jobID string, c Confirmation) (*closeapi.BulkDelete, error) {
	principal := cl.Principal()
	rec := AuditRecord{Principal: principal, JobID: jobID}
	if closeapi.ValidateBulkDeleteID(jobID) == nil {
		// The confirmation is judged before Close is asked anything.
		if r := g.checkConfirmation(c, resumePhrase(jobID), "resume a delete"); r != nil {
			return nil, g.refuse(r, rec)
		}
	}
	job, err := g.loadJob(ctx, cl, jobID, "resume_bulk_delete")
	if err != nil {
		return nil, err
	}
	rec = jobRecord(principal, jobID, job)
	rec.Subject = Subject(ctx)
	if r := notPausedRefusal(job); r != nil {
		return nil, g.refuse(r, rec)
	}
	intent := rec
	intent.Event, intent.Outcome, intent.Reason = EventResume, "resuming", "confirmed by "+c.By
	if _, err := g.audit(intent); err != nil {
		return nil, g.refuse(&Refusal{Code: CodeAuditUnavailable,
			Problem: "the audit log could not be written (" + err.Error() + "), so the job was not resumed",
			Next:    "Ask the operator to fix the audit log, then call resume_bulk_delete again; the job stays paused."}, rec)
	}
	out := rec
	out.Event = EventResume
	return g.setStatus(ctx, cl, jobID, JobResuming, "resume", "resumed", out)
}

// Pause is the brake: it sets a running job paused. Pausing a paused job
// returns it unchanged; a finished job is a refusal. Pause is never refused
// for an audit failure: stopping a delete must always work, so the audit
// write is best effort here.
func (g *Guard) Pause(ctx context.Context, cl *closeapi.Client, jobID string) (*closeapi.BulkDelete, error) {
	principal := cl.Principal()
	job, err := g.loadJob(ctx, cl, jobID, "pause_bulk_delete")
	if err != nil {
		return nil, err
	}
	rec := jobRecord(principal, jobID, job)
	rec.Event = EventPause
	switch st := job.StatusString(); st {
	case JobPaused:
		rec.Outcome = "already_paused"
		_, _ = g.audit(rec)
		return job, nil
	case JobDone, JobError:
		return nil, g.refuse(&Refusal{Code: CodeJobFinished, Pointer: "/id",
			Problem: fmt.Sprintf("bulk delete %s has finished (status %s, %d objects processed), so it cannot be paused", jobID, st, job.NObjectsProcessed),
			Next:    "Nothing more will be deleted by this job; check get_bulk_delete for its final counts."}, rec)
	}
	return g.setStatus(ctx, cl, jobID, JobPaused, "pause", "paused", rec)
}

// setStatus sets the job's status in Close and audits rec with the outcome:
// done when Close accepted it, "failed" (with Close's reason) when not; verb
// names the action in the returned error.
func (g *Guard) setStatus(ctx context.Context, cl *closeapi.Client, jobID, status, verb, done string, rec AuditRecord) (*closeapi.BulkDelete, error) {
	updated, err := cl.SetBulkDeleteStatus(ctx, jobID, status)
	if err != nil {
		rec.Outcome, rec.Reason = "failed", err.Error()
		_, _ = g.audit(rec)
		return nil, &Error{Op: verb + " bulk delete " + jobID, Err: err}
	}
	rec.Outcome = done
	_, _ = g.audit(rec)
	return updated, nil
}
