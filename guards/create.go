package guards

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/schema"
)

// Pending is what the person must confirm: the phrase to type and a message
// saying what it will do. The tools layer shows Message, asks for Phrase
// (elicitation) and seals the request state with SealState.
type Pending struct {
	// Plan is set for a create.
	Plan *Plan
	// Job is set for a resume.
	Job     *closeapi.BulkDelete
	Phrase  string
	Message string
	// Purpose is PurposeCreate or PurposeResume; Target the plan or job id.
	Purpose string
	Target  string
	// ExpiresAt is when the confirmation stops being usable (the plan's
	// expiry for a create; zero for a resume).
	ExpiresAt time.Time
}

// Confirmation is how the person confirmed: By is ConfirmedByElicitation
// (they typed Phrase into the client's form) or ConfirmedByPhrase (the
// phrase came as the tool's confirm argument). The guard cannot tell the
// two apart by itself: the caller sets ConfirmedByElicitation only after
// OpenState accepted the sealed state that came back with the answer.
type Confirmation struct {
	By     string
	Phrase string
}

// Receipt is the guard's account of a create. Previewed and Recounted are
// both totals of matches (before results_limit), so they compare directly;
// ResultsLimitSent is the cap Close received.
type Receipt struct {
	PlanID           string `json:"plan_id"`
	Previewed        int    `json:"previewed"`
	Recounted        int    `json:"recounted"`
	ResultsLimitSent int    `json:"results_limit_sent"`
	ConfirmedBy      string `json:"confirmed_by"`
	AuditID          string `json:"audit_id"`
	// IDsChecked is how many ids were found to be ones the person was
	// shown just before sending: every id the delete takes, or the sample.
	IDsChecked int `json:"ids_checked"`
	// Reconciled: the create's response was lost and the job was found in
	// Close's job list instead.
	Reconciled bool `json:"reconciled,omitempty"`
	// Backup is the verified backup taken before the delete; nil with --backup off.
	Backup *BackupInfo `json:"backup,omitempty"`
}

// Execution is a started bulk delete.
type Execution struct {
	Job     *closeapi.BulkDelete `json:"job"`
	Receipt Receipt              `json:"receipt"`
}

// UncertainError says a create may or may not have reached Close: the
// request was sent, no answer came back, and the job list did not show
// exactly one new job that could be it. Candidates, when there are several,
// are the new jobs with the same s_query, results_limit and creator: one may
// be this create's, the others another process's; none is adopted. The plan
// stays consumed so nobody sends it twice.
type UncertainError struct {
	PlanID     string
	Err        error
	Candidates []string
}

func (e *UncertainError) Error() string {
	if len(e.Candidates) > 1 {
		return fmt.Sprintf("the bulk delete for plan %s was sent but Close's answer was lost (%v), and the job list shows %d new jobs with the same query, results_limit and creator (%s): one may be this one, the others were started by someone else with the same key, and bulkguard cannot tell which, so it adopted none. Do not send it again and do not pause a job you cannot tell is yours: look at each with get_bulk_delete; the plan is used up", e.PlanID, e.Err, len(e.Candidates), strings.Join(e.Candidates, ", "))
	}
	return fmt.Sprintf("the bulk delete for plan %s was sent but Close's answer was lost (%v), and no matching job showed up in the job list: it is not known whether the delete started. Do not send it again: call list_bulk_deletes (and get_bulk_delete) to see whether a job with this query exists; the plan is used up, so preview again only if there is no such job", e.PlanID, e.Err)
}

func (e *UncertainError) Unwrap() error { return e.Err }

// BeginCreate checks a plan without side effects (no Close request, no
// state change) and says what the person must confirm.
func (g *Guard) BeginCreate(ctx context.Context, cl *closeapi.Client, planID string) (*Pending, error) {
	plan, err := g.checkPlan(ctx, cl.Principal(), planID)
	if err != nil {
		return nil, err
	}
	return &Pending{
		Plan:      plan,
		Phrase:    plan.Phrase,
		Message:   createMessage(plan),
		Purpose:   PurposeCreate,
		Target:    plan.ID,
		ExpiresAt: plan.ExpiresAt,
	}, nil
}

func createMessage(p *Plan) string {
	where := "Close"
	if p.Environment == "sandbox" {
		where = "the sandbox (not real Close data)"
	}
	msg := fmt.Sprintf("This permanently deletes %s in %s: %s.", plural(p.WillDelete, p.ObjectType), where, p.Summary)
	if len(p.Sample) > 0 {
		var names []string
		for _, s := range p.Sample[:min(len(p.Sample), 5)] {
			// Quoted: lead names are data anyone can type, never instructions.
			names = append(names, strconv.Quote(Clip(s.DisplayName, 80)))
		}
		msg += " For example: " + strings.Join(names, "; ")
		if p.WillDelete > len(names) {
			msg += fmt.Sprintf(" and %d more", p.WillDelete-len(names))
		}
		msg += "."
	}
	return msg + " It cannot be undone. Type " + p.Phrase + " to confirm."
}

// checkPlan is every plan check that needs no Close request: known, this
// principal's, not used, not expired, executable.
func (g *Guard) checkPlan(ctx context.Context, principal, planID string) (*Plan, error) {
	rec := AuditRecord{PlanID: Clip(planID, 80), Principal: principal}
	plan, state, err := g.store.Load(ctx, planID)
	if errors.Is(err, ErrPlanNotFound) {
		return nil, g.refuse(&Refusal{Code: CodePlanUnknown, Pointer: "/plan_id",
			Problem: fmt.Sprintf("there is no plan %q (plans live in this server's memory for %s after preview)", Clip(planID, 80), g.policy.PlanTTL),
			Next:    nextPreviewAgain}, rec)
	}
	if err != nil {
		return nil, &Error{Op: "load plan", Err: err}
	}
	rec = planRecord(plan)
	rec.Principal = principal
	if plan.Principal != principal {
		return nil, g.refuse(&Refusal{Code: CodePlanForeign, Pointer: "/plan_id",
			Problem: "plan " + planID + " was made with a different Close credential",
			Next:    "A plan can only be executed with the credential that previewed it. " + nextPreviewAgain}, rec)
	}
	expired := !g.now().Before(plan.ExpiresAt)
	// A claimed plan past its expiry is refused as expired: its in-use
	// message names a time that has passed.
	if r := stateRefusal(plan, state); r != nil && (state != PlanClaimed || !expired) {
		return nil, g.refuse(r, rec)
	}
	if expired {
		return nil, g.refuse(&Refusal{Code: CodePlanExpired, Pointer: "/plan_id",
			Problem: fmt.Sprintf("plan %s expired at %s (plans last %s)", planID, plan.ExpiresAt.UTC().Format(time.RFC3339), g.policy.PlanTTL),
			Next:    nextPreviewAgain}, rec)
	}
	if !plan.Executable {
		why := "it cannot be executed"
		next := nextPreviewAgain
		if plan.Refusal != nil {
			why = plan.Refusal.Problem
			next = plan.Refusal.Next
		}
		return nil, g.refuse(&Refusal{Code: CodePlanNotExecutable, Pointer: "/plan_id",
			Problem: "plan " + planID + " is not executable: " + why,
			Next:    next}, rec)
	}
	return plan, nil
}

// stateRefusal refuses a plan that is not available. A claimed plan is
// either being executed, or was left claimed by a create that could not
// record its outcome (its claim's answer was lost, or the release or
// finish failed while the store was down): the guard cannot tell which,
// and the plan stays claimed until it expires in the second case, so the
// refusal says both and what to do in either.
func stateRefusal(plan *Plan, s PlanState) *Refusal {
	planID := plan.ID
	switch s {
	case PlanClaimed:
		return &Refusal{Code: CodePlanInUse, Pointer: "/plan_id",
			Problem: "plan " + planID + " is held by a create_bulk_delete call: another one may be executing it right now, " +
				"or an earlier attempt could not record its outcome (for example while bulkguard's store was unavailable), " +
				"which leaves the plan held until it expires at " + plan.ExpiresAt.UTC().Format(time.RFC3339),
			Next: "Do not call create_bulk_delete again with this plan. Check list_bulk_deletes for a job it started: if there is one, " +
				"that is this delete (follow it with get_bulk_delete). If none appears within a minute, call preview_bulk_delete again " +
				"for a new plan, which counts what still matches now."}
	case PlanConsumed:
		return &Refusal{Code: CodePlanConsumed, Pointer: "/plan_id",
			Problem: "plan " + planID + " was already used to send a bulk delete (a plan runs once)",
			Next:    "Check list_bulk_deletes for the job it started. To delete more, " + lowerFirst(nextPreviewAgain)}
	case PlanDiscarded:
		return &Refusal{Code: CodePlanStale, Pointer: "/plan_id",
			Problem: "plan " + planID + " was discarded because at create time the delete would have taken more objects than the person was shown, or other ones",
			Next:    nextPreviewAgain}
	}
	return nil
}

// checkConfirmation judges how and what the person confirmed.
func (g *Guard) checkConfirmation(c Confirmation, phrase, what string) *Refusal {
	switch c.By {
	case ConfirmedByElicitation, ConfirmedByPhrase, ConfirmedByPage:
	default:
		return &Refusal{Code: CodeConfirmationInvalid, Pointer: "/confirm",
			Problem: fmt.Sprintf("the confirmation came by %q, which is neither elicitation nor phrase", c.By),
			Next:    "Ask the person to type " + phrase + " and pass exactly that as confirm."}
	}
	if r := pageRule(c.By, g.policy.Confirm, phrase); r != nil {
		return r
	}
	if c.By == ConfirmedByPhrase && g.policy.Confirm == ConfirmElicit {
		return &Refusal{Code: CodeElicitationRequired, Pointer: "/confirm",
			Problem: "this server accepts confirmations only through the client's elicitation form (--confirm=elicit), and this one came as a tool argument",
			Next:    "Use a client that supports MCP form elicitation, or ask the operator to run with --confirm=auto; a typed-through phrase cannot " + what + " here."}
	}
	if c.By == ConfirmedByElicitation && g.policy.Confirm == ConfirmPhrase {
		// This server never asks through a form, so an answer to one was
		// not prompted by it.
		return &Refusal{Code: CodeConfirmationInvalid, Pointer: "/confirm",
			Problem: "this server takes confirmations only as the typed phrase in the confirm argument (--confirm=phrase), and this one came as an answer to a form it never showed",
			Next:    "Ask the person to type " + phrase + " and pass exactly that as confirm."}
	}
	if c.Phrase == "" {
		return &Refusal{Code: CodeConfirmationMissing, Pointer: "/confirm",
			Problem: "no confirmation phrase was given",
			Next:    "Show the person the preview (summary, count and sample), ask them to type " + phrase + " themselves, and pass exactly what they typed as confirm. Never type it for them."}
	}
	if c.Phrase != phrase {
		return &Refusal{Code: CodeConfirmationMismatch, Pointer: "/confirm",
			Problem: fmt.Sprintf("the confirmation %q does not match %q", Clip(c.Phrase, 80), phrase),
			Next:    "Ask the person to type exactly " + phrase + " (same words, capitals and number) and pass it as confirm."}
	}
	return nil
}

// Create executes a plan: plan checks, confirmation, recount (reading the
// ids the delete would take: every one up to Policy.VerifyIDsUpTo, else the
// first page), the job list as it is, then one CreateBulkDelete with
// results_limit = min(requested, will_delete). It costs Close three
// requests when nothing goes wrong (one more per 200 ids beyond the first
// 200).
//
// Concurrency: the plan is claimed atomically before the recount, so of
// any number of concurrent Creates of one plan at most one reaches Close;
// the others are refused with plan_in_use or plan_consumed.
//
// What happens to the plan: refusals before the claim (plan checks,
// confirmation) leave it untouched, so a mistyped phrase can be retried.
// After the claim, a failed recount or job list, an audit failure, or a
// create Close answered 429 (it did not act) release it (the same
// confirmation may be retried); drift up, a recount of zero and a changed
// id set discard it (the person must see the new matches); any other
// answer to the create consumes it. These state changes run under their
// own context (stateCtx), so a caller that cancels midway never leaves the
// plan claimed, and an error from one is returned with the outcome, never
// dropped.
func (g *Guard) Create(ctx context.Context, cl *closeapi.Client, planID string, c Confirmation) (*Execution, error) {
	principal := cl.Principal()
	plan, err := g.checkPlan(ctx, principal, planID)
	if err != nil {
		return nil, err
	}
	rec := planRecord(plan)
	rec.Subject = Subject(ctx)
	if r := g.checkConfirmation(c, plan.Phrase, "confirm a delete"); r != nil {
		return nil, g.refuse(r, rec)
	}

	// Claim and every later state change run under stateCtx: once a plan
	// may be claimed, the caller's cancellation (a client hanging up, a
	// request deadline) must not stop the guard from releasing or finishing
	// it, or the plan would stay claimed, unusable, until it expires.
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "claim plan (the call was cancelled first; the plan is untouched)", Err: err}
	}
	claimed, state, err := g.claim(ctx, planID)
	switch {
	case errors.Is(err, ErrPlanNotAvailable):
		if r := stateRefusal(plan, state); r != nil {
			return nil, g.refuse(r, rec)
		}
		return nil, &Error{Op: "claim plan", Err: err}
	case errors.Is(err, ErrPlanNotFound):
		return nil, g.refuse(&Refusal{Code: CodePlanUnknown, Pointer: "/plan_id",
			Problem: "plan " + planID + " disappeared while it was being executed", Next: nextPreviewAgain}, rec)
	case err != nil:
		return nil, &Error{Op: "claim plan", Err: err}
	}
	plan = claimed
	// Expiry is judged again after the claim: the claim is the moment the
	// plan is used.
	if !g.now().Before(plan.ExpiresAt) {
		serr := g.settle(ctx, planID, PlanAvailable)
		return nil, withStateError(g.refuse(&Refusal{Code: CodePlanExpired, Pointer: "/plan_id",
			Problem: "plan " + planID + " expired", Next: nextPreviewAgain}, rec), serr)
	}

	// Always set, so Close can never delete more than was confirmed.
	sent := plan.WillDelete
	if plan.Request.ResultsLimit != nil && *plan.Request.ResultsLimit < sent {
		sent = *plan.Request.ResultsLimit
	}

	// Recount with exactly the query, sort and results_limit that will be
	// sent, reading in the same walk the ids the delete would take: every
	// one when the plan kept them all, else the first page (for the sample).
	upTo := 0
	if plan.IDs != "" {
		upTo = sent
	}
	m, err := cl.Matches(ctx, closeapi.MatchRequest{Query: plan.Request.SQuery, Sort: plan.Request.Sort,
		ObjectType: plan.ObjectType, ResultsLimit: &sent, AllIDsUpTo: upTo})
	if err != nil {
		op := "recount before deleting (nothing was sent; the plan can be retried)"
		rec.Event, rec.Outcome, rec.Reason = EventCreate, "error", "recount failed, nothing sent: "+err.Error()
		if serr := g.settle(ctx, planID, PlanAvailable); serr != nil {
			var se *Error
			if errors.As(serr, &se) {
				op = "recount before deleting (nothing was sent, but the plan could not be released: " + se.Op + ": " + se.Err.Error() + "; preview again)"
			}
			rec.Reason += "; " + serr.Error()
		}
		_, _ = g.audit(rec) // best effort: nothing was sent
		return nil, &Error{Op: op, Err: err}
	}
	count := m.Count
	rec.Recounted = intp(count.Total)
	if count.Total > plan.Total {
		serr := g.settle(ctx, planID, PlanDiscarded)
		return nil, withStateError(g.refuse(&Refusal{Code: CodeDriftUp,
			Problem: fmt.Sprintf("%s match now but only %d were previewed; the person never saw the extra %d", plural(count.Total, plan.ObjectType), plan.Total, count.Total-plan.Total),
			Next:    nextPreviewAgain}, rec), serr)
	}
	if count.Total == 0 {
		serr := g.settle(ctx, planID, PlanDiscarded)
		return nil, withStateError(g.refuse(&Refusal{Code: CodeNothingToDelete,
			Problem: "nothing matches the query any more (someone may have deleted or changed the objects since the preview)",
			Next:    "Check list_bulk_deletes for a job that already took them. To delete something else, " + lowerFirst(nextPreviewAgain)}, rec), serr)
	}

	checked, r := verifyIdentity(plan, m)
	if r != nil {
		serr := g.settle(ctx, planID, PlanDiscarded)
		return nil, withStateError(g.refuse(r, rec), serr)
	}
	req := plan.Request
	req.ResultsLimit = intp(sent)
	rec.ResultsLimitSent = intp(sent)

	// What the delete takes, by query and by id, goes on the record of the
	// create.
	if node, _, err := schema.DecodeNode(plan.Request.SQuery); err == nil {
		rec.SQuery = schema.Canonical(node)
	}
	if rec.SQuery == nil {
		rec.SQuery = plan.Request.SQuery // not decodable: as sent
	}
	rec.Sort = plan.Request.Sort
	rec.ResultsLimit = plan.Request.ResultsLimit
	rec.IDsDigest = plan.IDsDigest
	rec.IDs = unpackIDs(plan.IDs)
	if rec.IDs == nil {
		rec.SampleIDs = plan.SampleIDs
	}
	// The backup comes after the recount and the identity check (it copies what will be
	// sent, and the ids the check read are the ones it must hold) and before the job list
	// snapshot and the intent, so the intent names the backup that stands for this delete.
	var knownIDs []string
	if m.Complete {
		knownIDs = m.IDs
	}
	backup, r := g.takeBackup(ctx, cl, plan, sent, knownIDs)
	if r != nil {
		serr := g.settle(ctx, planID, PlanAvailable)
		return nil, withStateError(g.refuse(r, rec), serr)
	}
	if backup != nil {
		rec.Backup = &AuditBackup{ID: backup.ID, Path: backup.Path, SHA256: backup.SHA256}
	}
	// The job list as it is before the create: after a lost answer, only
	// jobs that are not in it can be the one this create made (another
	// process with the same key may create the same delete meanwhile).
	snapshot, err := g.jobSnapshot(ctx, cl)
	if err != nil {
		op := "read the job list before sending (nothing was sent; the plan can be retried)"
		rec.Event, rec.Outcome, rec.Reason = EventCreate, "error", "job list before the create failed, nothing sent: "+err.Error()
		serr := g.settle(ctx, planID, PlanAvailable)
		if serr != nil {
			rec.Reason += "; " + serr.Error()
		}
		_, _ = g.audit(rec) // best effort: nothing was sent
		return nil, withStateError(&Error{Op: op, Err: err}, serr)
	}

	// Recorded before sending: a delete that cannot be recorded is not sent.
	intent := rec
	intent.Event, intent.Outcome = EventCreateIntent, "sending"
	intent.Reason = "confirmed by " + c.By
	intentID, err := g.audit(intent)
	if err != nil {
		serr := g.settle(ctx, planID, PlanAvailable)
		return nil, withStateError(g.refuse(&Refusal{Code: CodeAuditUnavailable,
			Problem: "the audit log could not be written (" + err.Error() + "), so the bulk delete was not sent",
			Next:    "Ask the operator to fix the audit log (--audit-log path, disk space, permissions), then call create_bulk_delete again with the same plan_id and confirmation."}, rec), serr)
	}

	receipt := Receipt{
		PlanID:           planID,
		Previewed:        plan.Total,
		Recounted:        count.Total,
		ResultsLimitSent: sent,
		ConfirmedBy:      c.By,
		AuditID:          intentID,
		IDsChecked:       checked,
		Backup:           backup,
	}
	// The plan stays claimed while the create is in flight (nobody else
	// can use it) and is consumed once Close may have acted: on anything
	// but a 429, which means Close did not (docs/close-api.md §4.4).
	job, waited, sendErr := g.send(ctx, cl, req)
	out := rec
	out.Event = EventCreate
	if closeapi.IsRateLimited(sendErr) {
		return nil, g.rateLimited(ctx, planID, sendErr, waited, out)
	}
	serr := g.settle(ctx, planID, PlanConsumed)
	if serr != nil {
		// The plan stays claimed, so it cannot be sent again either; the
		// outcome below still stands.
		out.Reason = serr.Error() + "; "
	}
	g.mu.Lock()
	g.lastCreate.put(principal, struct{}{}, g.now())
	g.mu.Unlock()
	g.forgetOrgTotals(principal)

	switch {
	case sendErr == nil:
		out.Outcome = "sent"
	case mayHaveLanded(sendErr):
		found, candidates, lerr := g.reconcile(ctx, cl, plan, sent, snapshot)
		if found == nil {
			out.Outcome = "uncertain"
			out.Reason += "create answer lost: " + sendErr.Error()
			ids := make([]string, 0, len(candidates))
			for _, j := range candidates {
				ids = append(ids, j.ID)
			}
			if len(ids) > 1 {
				out.CandidateJobIDs = ids
				out.Reason += fmt.Sprintf("; %d new jobs with this query, results_limit and creator, none adopted", len(ids))
			}
			if lerr != nil {
				out.Reason += "; job list failed: " + lerr.Error()
			}
			_, _ = g.audit(out)
			return nil, &UncertainError{PlanID: planID, Err: sendErr, Candidates: ids}
		}
		job = found
		receipt.Reconciled = true
		out.Outcome = "reconciled"
		out.Reason += "create answer lost (" + sendErr.Error() + "); the one new job with this query, results_limit and creator found in the job list"
	default:
		out.Outcome = "failed"
		out.Reason += sendErr.Error()
		_, _ = g.audit(out)
		return nil, &Error{Op: fmt.Sprintf("the bulk delete for plan %s was refused by Close or could not be sent, so nothing was deleted; the plan is used up, so preview again after fixing the cause", planID), Err: sendErr}
	}
	g.mu.Lock()
	g.knownJobs.put(job.ID, struct{}{}, g.now())
	g.mu.Unlock()
	out.JobID = job.ID
	if backup != nil {
		if err := g.backups.SetJob(backup.ID, job.ID); err != nil {
			out.Reason = "the backup's manifest could not name the job: " + err.Error()
		}
	}
	// The intent record already stands for this delete; if the outcome
	// cannot be written the job still exists, so it is returned anyway with
	// the intent's id.
	if id, err := g.audit(out); err == nil {
		receipt.AuditID = id
	}
	return &Execution{Job: job, Receipt: receipt}, nil
}

// maxRateWait bounds the wait for Close's rate-limit reset before the one
// repeat of a create answered 429; a longer reset releases the plan instead.
const maxRateWait = 10 * time.Second

// defaultRateWait is the wait when a 429 does not say how long (the
// official client's fallback, docs/close-api.md §4.4).
const defaultRateWait = 2 * time.Second

// send sends the create. A 429 means Close did not act (docs/close-api.md
// §4.4), so the create may be sent once more after the reset, if that comes
// within maxRateWait. waited is the wait before the repeat (0 if none).
func (g *Guard) send(ctx context.Context, cl *closeapi.Client, req closeapi.BulkDeleteRequest) (*closeapi.BulkDelete, time.Duration, error) {
	job, err := cl.CreateBulkDelete(ctx, req)
	if !closeapi.IsRateLimited(err) {
		return job, 0, err
	}
	wait := rateWait(err)
	if wait > maxRateWait {
		return nil, 0, err
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, 0, err
	}
	job, err = cl.CreateBulkDelete(ctx, req)
	return job, wait, err
}

// rateWait is how long a 429 asked to wait.
func rateWait(err error) time.Duration {
	var ae *closeapi.APIError
	if errors.As(err, &ae) && ae.RetryAfter > 0 {
		return ae.RetryAfter
	}
	return defaultRateWait
}

// rateLimited releases a plan whose create Close answered 429 (it did not
// act, so the plan was not used) and says when to try again.
func (g *Guard) rateLimited(ctx context.Context, planID string, sendErr error, waited time.Duration, out AuditRecord) error {
	wait := max(rateWait(sendErr), time.Second).Round(time.Second)
	serr := g.settle(ctx, planID, PlanAvailable)
	what := "Close answered the create with 429 Too Many Requests, which means it started no job"
	if waited > 0 {
		what = fmt.Sprintf("Close answered the create with 429 Too Many Requests twice (the second time after waiting %s for its rate limit to reset), which means it started no job", waited.Round(100*time.Millisecond))
	} else {
		what += fmt.Sprintf(" (it asked to wait %s, longer than bulkguard waits)", wait)
	}
	out.Outcome = "rate_limited"
	out.Reason = "not sent: " + sendErr.Error() + "; plan released"
	if serr != nil {
		out.Reason += " (" + serr.Error() + ")"
	}
	_, _ = g.audit(out) // best effort: nothing was deleted
	next := fmt.Sprintf("Wait %s, then call create_bulk_delete again with the same plan_id and confirmation: the plan is kept.", wait)
	return withStateError(&Refusal{Code: CodeRateLimited, Problem: what, Next: next}, serr)
}

// planStateTimeout bounds one plan state change (claim, release, finish)
// once it no longer follows the caller's cancellation.
const planStateTimeout = 10 * time.Second

// stateCtx keeps ctx's values but not its cancellation or deadline, and
// gives a plan state change its own budget.
func stateCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), planStateTimeout)
}

// claim claims the plan under stateCtx: a claim the store made must come
// back to this create, which alone can release or finish it.
func (g *Guard) claim(ctx context.Context, planID string) (*Plan, PlanState, error) {
	ctx, cancel := stateCtx(ctx)
	defer cancel()
	return g.store.Claim(ctx, planID)
}

// settle moves the claimed plan to PlanAvailable (release) or a final
// state (finish) under stateCtx, so that a cancelled caller cannot leave it
// claimed. The error names the plan and the state it should have reached.
func (g *Guard) settle(ctx context.Context, planID string, to PlanState) error {
	ctx, cancel := stateCtx(ctx)
	defer cancel()
	var err error
	if to == PlanAvailable {
		err = g.store.Release(ctx, planID)
	} else {
		err = g.store.Finish(ctx, planID, to)
	}
	if err != nil {
		return &Error{Op: "move plan " + planID + " to " + to.String() + " (it stays claimed until it expires)", Err: err}
	}
	return nil
}

// withStateError returns err, joined with the error of the plan state
// change that went with it, if any, so neither is dropped.
func withStateError(err, stateErr error) error {
	if stateErr == nil {
		return err
	}
	return errors.Join(err, stateErr)
}

// mayHaveLanded: the create may have taken effect although no answer says
// so. closeapi.IsAmbiguous covers timeouts, dropped connections after the
// request was written and 502/504; any other 5xx is treated the same way,
// because a server error says nothing about whether the job was made.
func mayHaveLanded(err error) bool {
	if closeapi.IsAmbiguous(err) {
		return true
	}
	var ae *closeapi.APIError
	return errors.As(err, &ae) && ae.StatusCode >= 500
}

// reconcileWaits are the pauses before re-reading the job list when the
// lost job is not in it yet (Close may list a job a moment after making it).
var reconcileWaits = []time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond}

const (
	reconcilePageSize = 100
	reconcilePages    = 3
	// reconcileSkew tolerates clock difference between this host and Close
	// when comparing the job's date_created with the plan's creation.
	reconcileSkew = time.Minute
)

// snapshotPages is how much of the job list (newest first) is kept before
// a create; a lost create's job is looked for above the newest of these.
const snapshotPages = 1

// jobSnapshot lists the ids of the newest jobs before a create.
func (g *Guard) jobSnapshot(ctx context.Context, cl *closeapi.Client) (map[string]bool, error) {
	ids := map[string]bool{}
	for page := range snapshotPages {
		list, err := cl.ListBulkDeletes(ctx, reconcilePageSize, page*reconcilePageSize)
		if err != nil {
			return nil, err
		}
		for _, j := range list.Data {
			ids[j.ID] = true
		}
		if !list.HasMore {
			break
		}
	}
	return ids, nil
}

// reconcile looks for the job a lost create may have made among the jobs
// that were not in the list before it was sent (snapshot): same s_query
// (compared canonically), the results_limit that was sent, the plan's
// object type, created by the credential's user, and not one this guard
// already handed out. Exactly one such job is this create's; several mean
// another process with the same key made the same delete, and none is
// adopted (candidates lists them). It never re-sends the create.
func (g *Guard) reconcile(ctx context.Context, cl *closeapi.Client, plan *Plan, sent int, snapshot map[string]bool) (found *closeapi.BulkDelete, candidates []closeapi.BulkDelete, err error) {
	// The caller's context may be what timed out; the search for the job
	// gets its own budget so the answer is not lost twice.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	creator := ""
	if me, err := cl.Me(ctx); err == nil {
		creator = me.ID
	}
	var lastErr error
	for _, wait := range reconcileWaits {
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, candidates, ctx.Err()
			}
		}
		var seen []closeapi.BulkDelete
		lastErr = nil
	pages:
		for page := 0; page < reconcilePages; page++ {
			list, err := cl.ListBulkDeletes(ctx, reconcilePageSize, page*reconcilePageSize)
			if err != nil {
				lastErr = err
				break
			}
			for i := range list.Data {
				j := &list.Data[i]
				if snapshot[j.ID] {
					// The list is newest first (as the sandbox lists it;
					// Close's order is inferred): from here on every job
					// existed before the create. Were it oldest first, the
					// walk would stop at once and report uncertainty, the
					// safe way to be wrong.
					break pages
				}
				if g.isOurJob(j, plan, sent, creator) {
					seen = append(seen, *j)
				}
			}
			if !list.HasMore {
				break
			}
		}
		if lastErr != nil {
			continue
		}
		candidates = seen
		if len(seen) == 1 {
			return &seen[0], nil, nil
		}
		if len(seen) > 1 {
			return nil, seen, nil
		}
	}
	return nil, candidates, lastErr
}

func (g *Guard) isOurJob(j *closeapi.BulkDelete, plan *Plan, sent int, creator string) bool {
	if j.ID == "" {
		return false
	}
	g.mu.Lock()
	_, known := g.knownJobs.get(j.ID, g.now())
	g.mu.Unlock()
	if known {
		return false
	}
	if j.BulkObjectType != "" && j.BulkObjectType != plan.ObjectType {
		return false
	}
	if j.ResultsLimit != nil && *j.ResultsLimit != sent {
		return false
	}
	if creator != "" && j.CreatedBy != nil && *j.CreatedBy != creator {
		return false
	}
	if j.DateCreated != nil && j.DateCreated.Before(plan.CreatedAt.Add(-reconcileSkew)) {
		return false
	}
	return sameQuery(j.SQuery, plan.Request.SQuery)
}

// sameQuery compares two s_query values by meaning: through the grammar's
// canonical form when both decode (Close may echo negate:false or reorder
// keys), else as canonical JSON.
func sameQuery(a, b json.RawMessage) bool {
	na, _, errA := schema.DecodeNode(a)
	nb, _, errB := schema.DecodeNode(b)
	if errA == nil && errB == nil {
		return bytes.Equal(schema.Canonical(na), schema.Canonical(nb))
	}
	ca, okA := canonicalJSON(a)
	cb, okB := canonicalJSON(b)
	return okA && okB && bytes.Equal(ca, cb)
}

// canonicalJSON re-encodes through interface{}: encoding/json sorts object
// keys, so key order and whitespace no longer matter.
func canonicalJSON(raw json.RawMessage) ([]byte, bool) {
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, false
	}
	out, err := json.Marshal(v)
	return out, err == nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// Clip cuts s to n runes, marking the cut with "…", before text a caller
// sent is echoed into a refusal, a result or the audit log, so a 10 MB
// argument cannot become a 10 MB error or audit record. It counts runes,
// not bytes, so a name in any script keeps the same length and is never cut
// inside a character.
func Clip(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos] + "…"
		}
		i++
	}
	return s
}
