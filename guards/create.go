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
// request was sent, no answer came back, and no matching job was found in
// the job list. The plan stays consumed so nobody sends it twice.
type UncertainError struct {
	PlanID string
	Err    error
}

func (e *UncertainError) Error() string {
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
	if r := stateRefusal(planID, state); r != nil {
		return nil, g.refuse(r, rec)
	}
	if !g.now().Before(plan.ExpiresAt) {
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

func stateRefusal(planID string, s PlanState) *Refusal {
	switch s {
	case PlanClaimed:
		return &Refusal{Code: CodePlanInUse, Pointer: "/plan_id",
			Problem: "another create_bulk_delete call is executing plan " + planID + " right now",
			Next:    "Do not call create again: wait a moment, then check list_bulk_deletes for the job it started."}
	case PlanConsumed:
		return &Refusal{Code: CodePlanConsumed, Pointer: "/plan_id",
			Problem: "plan " + planID + " was already used to send a bulk delete (a plan runs once)",
			Next:    "Check list_bulk_deletes for the job it started. To delete more, " + lowerFirst(nextPreviewAgain)}
	case PlanDiscarded:
		return &Refusal{Code: CodePlanStale, Pointer: "/plan_id",
			Problem: "plan " + planID + " was discarded because more objects matched at create time than the person was shown",
			Next:    nextPreviewAgain}
	}
	return nil
}

// checkConfirmation judges how and what the person confirmed.
func (g *Guard) checkConfirmation(c Confirmation, phrase, what string) *Refusal {
	switch c.By {
	case ConfirmedByElicitation, ConfirmedByPhrase:
	default:
		return &Refusal{Code: CodeConfirmationInvalid, Pointer: "/confirm",
			Problem: fmt.Sprintf("the confirmation came by %q, which is neither elicitation nor phrase", c.By),
			Next:    "Ask the person to type " + phrase + " and pass exactly that as confirm."}
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

// Create executes a plan: plan checks, confirmation, recount, then one
// CreateBulkDelete with results_limit = min(requested, will_delete). It
// costs Close two requests (recount and create) when nothing goes wrong.
//
// Concurrency: the plan is claimed atomically before the recount, so of
// any number of concurrent Creates of one plan at most one reaches Close;
// the others are refused with plan_in_use or plan_consumed.
//
// What happens to the plan: refusals before the claim (plan checks,
// confirmation) leave it untouched, so a mistyped phrase can be retried.
// After the claim, a failed recount or an audit failure releases it
// (nothing was sent, the same confirmation may be retried); drift up and
// a recount of zero discard it (the person must see the new numbers); a
// sent create consumes it, whatever the answer. These state changes run
// under their own context (stateCtx), so a caller that cancels midway
// never leaves the plan claimed, and an error from one is returned with the
// outcome, never dropped.
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
		if r := stateRefusal(planID, state); r != nil {
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

	// Recount with exactly the query and sort that will be sent.
	count, err := cl.Count(ctx, plan.Request.SQuery, plan.Request.Sort)
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

	// Always set, so Close can never delete more than was confirmed.
	sent := plan.WillDelete
	if plan.Request.ResultsLimit != nil && *plan.Request.ResultsLimit < sent {
		sent = *plan.Request.ResultsLimit
	}
	req := plan.Request
	req.ResultsLimit = intp(sent)
	rec.ResultsLimitSent = intp(sent)

	// The backup comes after the recount (it copies what will be sent) and before the intent
	// is recorded, so the intent names the backup that stands for this delete.
	backup, r := g.takeBackup(ctx, cl, plan, sent)
	if r != nil {
		serr := g.settle(ctx, planID, PlanAvailable)
		return nil, withStateError(g.refuse(r, rec), serr)
	}
	if backup != nil {
		rec.Backup = &AuditBackup{ID: backup.ID, Path: backup.Path, SHA256: backup.SHA256}
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
	if err := g.settle(ctx, planID, PlanConsumed); err != nil {
		return nil, &Error{Op: "mark plan consumed (nothing was sent)", Err: err}
	}
	g.mu.Lock()
	g.lastCreate[principal] = g.now()
	g.mu.Unlock()

	receipt := Receipt{
		PlanID:           planID,
		Previewed:        plan.Total,
		Recounted:        count.Total,
		ResultsLimitSent: sent,
		ConfirmedBy:      c.By,
		AuditID:          intentID,
		Backup:           backup,
	}
	job, sendErr := cl.CreateBulkDelete(ctx, req)
	out := rec
	out.Event = EventCreate
	switch {
	case sendErr == nil:
		out.Outcome = "sent"
	case mayHaveLanded(sendErr):
		found, lerr := g.reconcile(ctx, cl, plan, sent)
		if found == nil {
			out.Outcome = "uncertain"
			out.Reason = "create answer lost: " + sendErr.Error()
			if lerr != nil {
				out.Reason += "; job list failed: " + lerr.Error()
			}
			_, _ = g.audit(out)
			return nil, &UncertainError{PlanID: planID, Err: sendErr}
		}
		job = found
		receipt.Reconciled = true
		out.Outcome = "reconciled"
		out.Reason = "create answer lost (" + sendErr.Error() + "); job found in the job list"
	default:
		out.Outcome = "failed"
		out.Reason = sendErr.Error()
		_, _ = g.audit(out)
		return nil, &Error{Op: fmt.Sprintf("the bulk delete for plan %s was refused by Close or could not be sent, so nothing was deleted; the plan is used up, so preview again after fixing the cause", planID), Err: sendErr}
	}
	g.mu.Lock()
	g.knownJobs[job.ID] = true
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

// reconcile looks for the job a lost create may have made: same s_query
// (compared canonically), the results_limit that was sent, the plan's
// object type, created at or after the plan, and not a job this guard
// already handed out. It never re-sends the create.
func (g *Guard) reconcile(ctx context.Context, cl *closeapi.Client, plan *Plan, sent int) (*closeapi.BulkDelete, error) {
	// The caller's context may be what timed out; the search for the job
	// gets its own budget so the answer is not lost twice.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	var lastErr error
	for _, wait := range reconcileWaits {
		if wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		for page := 0; page < reconcilePages; page++ {
			list, err := cl.ListBulkDeletes(ctx, reconcilePageSize, page*reconcilePageSize)
			if err != nil {
				lastErr = err
				break
			}
			lastErr = nil
			for i := range list.Data {
				if g.isOurJob(&list.Data[i], plan, sent) {
					j := list.Data[i]
					return &j, nil
				}
			}
			if !list.HasMore {
				break
			}
		}
	}
	return nil, lastErr
}

func (g *Guard) isOurJob(j *closeapi.BulkDelete, plan *Plan, sent int) bool {
	if j.ID == "" {
		return false
	}
	g.mu.Lock()
	known := g.knownJobs[j.ID]
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
