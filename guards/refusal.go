package guards

import (
	"errors"
	"strings"
)

// Refusal is the guard saying no. Every refusal says what happened
// (Problem, and Pointer when a place in the input is to blame), that nothing
// was deleted, and what to do next (Next), because the model reading it has
// to be able to recover without guessing and the person must never wonder
// whether data went away.
type Refusal struct {
	// Code is stable and machine-readable (one of the Code* constants).
	Code string `json:"code"`
	// Pointer is a JSON pointer into the tool input, "" when not about one
	// place.
	Pointer string `json:"pointer,omitempty"`
	// Problem says what happened, in a sentence without a final period.
	Problem string `json:"problem"`
	// Next says what to do now.
	Next string `json:"next"`
}

// Error renders "<problem> [at <pointer>]. Nothing was deleted. <next>".
func (r *Refusal) Error() string {
	var b strings.Builder
	b.WriteString(strings.TrimRight(r.Problem, ". "))
	if r.Pointer != "" {
		b.WriteString(" at ")
		b.WriteString(r.Pointer)
	}
	b.WriteString(". Nothing was deleted.")
	if r.Next != "" {
		b.WriteString(" ")
		b.WriteString(r.Next)
	}
	return b.String()
}

// Error is a guard step that failed for a reason other than a refusal,
// usually a Close or plan-store error. Op is the guard's own account: what
// it was doing and, where it matters, what became of the plan or job
// ("recount before deleting (nothing was sent; the plan can be retried)").
// Callers read Op and Err with errors.As instead of parsing Error().
type Error struct {
	Op  string
	Err error
}

func (e *Error) Error() string { return "guards: " + e.Op + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

// AsRefusal reports whether err is (or wraps) a *Refusal and returns it.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// Refusal codes. They are part of the guard's interface: tests and the
// tools layer match on them, so they never change meaning.
const (
	// Preview policy (judged without Close).
	CodeQueryMissing         = "query_missing"
	CodeQueryAndSmartView    = "query_and_smart_view"
	CodeObjectTypeMissing    = "object_type_missing"
	CodeObjectTypeNotAllowed = "object_type_not_allowed"
	CodeMatchAll             = "match_all"
	CodeResultsLimitInvalid  = "results_limit_invalid"
	CodeSmartViewInvalidID   = "smart_view_invalid_id"
	CodeSmartViewNotFound    = "smart_view_not_found"
	CodeSmartViewLegacy      = "smart_view_legacy"
	CodeSmartViewType        = "smart_view_type"
	CodeSmartViewMismatch    = "smart_view_object_type_mismatch"
	// CodePlansFull: the plan caps are reached (Policy.MaxPlansPerPrincipal,
	// Policy.MaxPlanBytes); the preview was not saved.
	CodePlansFull = "plans_full"

	// Preview results (the plan exists but cannot be executed).
	CodeTooMany          = "too_many"
	CodeShareTooLarge    = "share_too_large"
	CodeNothingToDelete  = "nothing_to_delete"
	CodeAuditUnavailable = "audit_unavailable"
	// CodeReadOnly: the server runs with --read-only, so no plan can be
	// executed there (set by the tools layer, which registers no create).
	CodeReadOnly = "read_only"

	// Plan checks at create.
	CodePlanUnknown       = "plan_unknown"
	CodePlanExpired       = "plan_expired"
	CodePlanConsumed      = "plan_consumed"
	CodePlanInUse         = "plan_in_use"
	CodePlanStale         = "plan_stale"
	CodePlanForeign       = "plan_foreign"
	CodePlanNotExecutable = "plan_not_executable"

	// Confirmation.
	CodeConfirmationMissing  = "confirmation_missing"
	CodeConfirmationMismatch = "confirmation_mismatch"
	CodeElicitationRequired  = "elicitation_required"
	CodeConfirmationInvalid  = "confirmation_invalid"
	// CodeApprovalRequired: the person must approve on the approval page.
	CodeApprovalRequired = "approval_required"

	// Execution.
	CodeDriftUp = "drift_up"
	// CodeIdentityChanged: the delete would now take objects the person
	// was not shown (the count may be the same).
	CodeIdentityChanged = "identity_changed"
	// CodeRateLimited: Close answered the create 429 (it did not act); the
	// plan is kept for a retry.
	CodeRateLimited = "rate_limited"

	// The backup before a delete.
	CodeBackupFailed   = "backup_failed"
	CodeBackupTimeout  = "backup_timeout"
	CodeBackupMismatch = "backup_mismatch"

	// Jobs (pause / resume).
	CodeJobInvalidID = "job_invalid_id"
	CodeJobNotFound  = "job_not_found"
	CodeJobNotPaused = "job_not_paused"
	CodeJobFinished  = "job_finished"

	// Sealed elicitation state.
	CodeStateTampered    = "state_tampered"
	CodeStateForeign     = "state_foreign"
	CodeStateWrongTarget = "state_wrong_target"
	CodeStateExpired     = "state_expired"
	CodeStateReplayed    = "state_replayed"
)

const (
	nextPreviewAgain = "Call preview_bulk_delete again, show the person the new count, summary and sample, then call create_bulk_delete with the new plan_id."
	nextMatchAll     = "Add conditions that pick out what to delete, then call preview_bulk_delete again. Deleting everything is switched off unless the server runs with --allow-match-all."
	nextNarrow       = "Narrow the query: add conditions (for example a date range or a status), or set results_limit, then call preview_bulk_delete again."
)
