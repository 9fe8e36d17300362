package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// Errors the model can act on are isError tool results (never Go errors,
// which become JSON-RPC errors that many clients never show the model), and
// carry no structuredContent: TS-SDK clients validate structuredContent
// against the output schema even on errors (docs/mcp-notes.md §0.9). Each text
// names the place (a JSON pointer) when there is one, says what was wrong,
// says what happened to the data, and gives the next step.

// effect says what a failed call means for the person's data.
type effect int

const (
	// effectNone: read-only calls, previews and creates that were not sent.
	effectNone effect = iota
	// effectCreate: a create; nothing was deleted unless the request may
	// have reached Close.
	effectCreate
	// effectPause: the brake did not engage.
	effectPause
	// effectResume: the job stays paused.
	effectResume
	// effectRestore: a restore that did not start (nothing created, nothing deleted).
	effectRestore
)

// errorResult renders text as an isError result.
func errorResult(text string) *mcp.CallToolResult {
	return mcp.NewToolResultError(text)
}

// argErrorResult renders an argument problem.
func argErrorResult(e *argError) *mcp.CallToolResult {
	var b strings.Builder
	b.WriteString("Invalid arguments")
	if e.Pointer != "" {
		b.WriteString(" at ")
		b.WriteString(e.Pointer)
	}
	b.WriteString(": ")
	b.WriteString(strings.TrimRight(e.Problem, ". "))
	b.WriteString(". Nothing was deleted.")
	if e.Next != "" {
		b.WriteString(" ")
		b.WriteString(e.Next)
	}
	return errorResult(b.String())
}

// refusalResult renders a guard refusal with its stable code first, so a
// person reading a transcript and a test can both tell refusals apart.
func refusalResult(r *guards.Refusal) *mcp.CallToolResult {
	return errorResult("Refused (" + r.Code + "): " + r.Error())
}

// failure turns any error from the guard or Close into an isError result.
// what names the object the call was about (for 404s), e.g. "bulk-delete
// job bulkdelete_x".
func failure(err error, eff effect, what string) *mcp.CallToolResult {
	var r *guards.Refusal
	if errors.As(err, &r) {
		return refusalResult(r)
	}
	var ae *argError
	if errors.As(err, &ae) {
		return argErrorResult(ae)
	}
	problem, next := closeProblem(err, what)
	ambiguous := mayHaveActed(err, eff)
	var consequence string
	switch {
	case eff == effectCreate && ambiguous && len(candidates(err)) > 1:
		consequence = "The bulk delete MAY HAVE STARTED: the request may have reached Close, and the job list shows several new jobs with the same query, results_limit and creator (" + strings.Join(candidates(err), ", ") + "): one may be this one, the others were started by someone else with the same key, so none was adopted."
		next = "Do not call create_bulk_delete again (the plan is used up). Look at each with get_bulk_delete, and do not pause a job you cannot tell is yours: ask the person."
	case eff == effectCreate && ambiguous:
		consequence = "The bulk delete MAY HAVE STARTED: the request may have reached Close, and no job for it was found yet."
		next = "Do not call create_bulk_delete again (the plan is used up). Call list_bulk_deletes in a minute to look for the new job, and pause_bulk_delete it if it should not run."
	case eff == effectPause && ambiguous:
		consequence = "The pause may or may not have reached Close."
		next = "Call get_bulk_delete to see whether the job is paused, and call pause_bulk_delete again if it is not."
	case eff == effectPause:
		consequence = "The job was NOT paused: if it was running, it is still deleting."
		if next == "" {
			next = "Call pause_bulk_delete again."
		}
	case eff == effectResume && ambiguous:
		consequence = "The resume may have reached Close."
		next = "Call get_bulk_delete to see whether the job is running again before doing anything else."
	case eff == effectResume:
		consequence = "The job was not resumed; it stays paused."
	default:
		consequence = "Nothing was deleted."
	}
	text := problem + ". " + consequence
	if g := guardContext(err); g != "" && !ambiguous {
		// The guard's own words say what became of the plan (kept for a
		// retry, or used up).
		text += " The guard says: " + g + "."
	}
	if next != "" {
		text += " " + next
	}
	return errorResult(text)
}

// candidates are the jobs a lost create may have made, when the guard
// found several and adopted none.
func candidates(err error) []string {
	var ue *guards.UncertainError
	if errors.As(err, &ue) {
		return ue.Candidates
	}
	return nil
}

// guardContext is the guard's own account of a failed step (what it was
// doing, what became of the plan), without the cause closeProblem already
// told.
func guardContext(err error) string {
	var ge *guards.Error
	if !errors.As(err, &ge) {
		return ""
	}
	return strings.TrimRight(ge.Op, ". ")
}

// mayHaveActed reports whether the failed call's write may have taken
// effect in Close although no answer says so. For a create only the guard
// can tell (it looks for the job in Close's list first, and says
// UncertainError when it cannot find it); for a pause or resume it is the
// status PUT that is ambiguous, never the read before it.
func mayHaveActed(err error, eff effect) bool {
	switch eff {
	case effectCreate:
		var ue *guards.UncertainError
		return errors.As(err, &ue)
	case effectPause, effectResume:
		if !closeapi.IsAmbiguous(err) {
			return false
		}
		var ae *closeapi.APIError
		if errors.As(err, &ae) {
			return ae.Method == http.MethodPut
		}
		var te *closeapi.TransportError
		if errors.As(err, &te) {
			return te.Method == http.MethodPut
		}
	}
	return false
}

// closeProblem explains a Close or transport error in words a model can act
// on. The closeapi errors never contain the credential; nor does this.
func closeProblem(err error, what string) (problem, next string) {
	var ae *closeapi.APIError
	var te *closeapi.TransportError
	switch {
	case errors.Is(err, closeapi.ErrInvalidID):
		return "the id is not valid: " + trimPrefix(err.Error()), "Pass the id exactly as Close or bulkguard returned it."
	case errors.As(err, &ae):
		status := fmt.Sprintf("%d %s", ae.StatusCode, http.StatusText(ae.StatusCode))
		switch ae.StatusCode {
		case http.StatusUnauthorized:
			return "Close rejected the API key (" + status + ")",
				"Check CLOSE_API_KEY (or the " + ClientKeyHeader + " header): it may be mistyped, revoked or expired."
		case http.StatusForbidden:
			return "Close refused the request (" + status + "): this key's user may not do this",
				"Use the key of a user who may run bulk actions in this organization."
		case http.StatusPaymentRequired:
			return "Close refused the request (" + status + "): the organization's plan does not allow it", ""
		case http.StatusNotFound:
			if what == "" {
				what = "object"
			}
			return "Close has no " + what + " (" + status + ")",
				"Check the id: list_bulk_deletes lists jobs, lookup_close_ids lists statuses, fields, views and users."
		case http.StatusTooManyRequests:
			wait := "a few seconds"
			if ae.RetryAfter > 0 {
				wait = ae.RetryAfter.Round(time.Second).String()
				if ae.RetryAfter < time.Second {
					wait = "a second"
				}
			}
			return "Close is rate-limiting requests (" + status + ")", "Wait " + wait + " and try again."
		case http.StatusBadRequest:
			if ae.SandboxUnsupported {
				p := "the sandbox cannot evaluate this; Close may accept it"
				if d := apiErrorDetails(ae); d != "" {
					p += " (" + d + ")"
				}
				return p, "Preview it against Close itself (set CLOSE_API_KEY), or, to rehearse here, use the fields and relations the sandbox models (sandbox/README.md)."
			}
			p := "Close rejected the request (" + status + ")"
			if d := apiErrorDetails(ae); d != "" {
				p += ": " + d
			}
			return p, "Fix what Close names and try again."
		}
		p := "Close answered " + status
		if ae.Message != "" {
			p += ": " + strings.TrimRight(ae.Message, ". ")
		}
		if ae.StatusCode >= 500 {
			return p, "Try again in a minute."
		}
		return p, ""
	case errors.As(err, &te):
		return "Close could not be reached: " + trimPrefix(te.Error()), "Try again in a minute."
	case errors.Is(err, context.Canceled):
		return "the call was cancelled", ""
	case errors.Is(err, context.DeadlineExceeded):
		return "the call timed out", "Try again."
	}
	// Not Close's: the cause itself (the guard's account of it is added
	// by failure, from guardContext).
	var ge *guards.Error
	if errors.As(err, &ge) {
		err = ge.Err
	}
	return trimPrefix(err.Error()), ""
}

// apiErrorDetails lists Close's message, field errors and errors.
func apiErrorDetails(ae *closeapi.APIError) string {
	var parts []string
	if ae.Message != "" {
		parts = append(parts, strings.TrimRight(ae.Message, ". "))
	}
	keys := make([]string, 0, len(ae.FieldErrors))
	for k := range ae.FieldErrors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("field %s: %v", k, ae.FieldErrors[k]))
	}
	for _, e := range ae.Errors {
		parts = append(parts, fmt.Sprint(e))
	}
	return strings.Join(parts, "; ")
}

func trimPrefix(s string) string {
	return strings.TrimPrefix(s, "closeapi: ")
}

// progressOf computes a job's progress. Close fills n_objects once matching
// finishes (null before, docs/close-api.md §1.3); n_leads is the fallback for
// lead jobs.
func progressOf(j *closeapi.BulkDelete) progressOut {
	p := progressOut{Processed: j.NObjectsProcessed}
	total := j.NObjects
	if total == nil && j.NLeads != nil {
		total = j.NLeads
		p.Processed = max(p.Processed, j.NLeadsProcessed)
	}
	status := j.StatusString()
	p.Terminal = guards.JobFinished(status)
	if total != nil {
		t := *total
		p.Total = &t
		var pct float64
		switch {
		case t > 0:
			pct = math.Round(float64(p.Processed)*1000/float64(t)) / 10
		case status == guards.JobDone:
			pct = 100
		}
		p.Percent = &pct
	} else if status == guards.JobDone {
		pct := 100.0
		p.Percent = &pct
	}
	return p
}

// jobLine is one line about a job for the text fallback.
func jobLine(j *closeapi.BulkDelete) string {
	p := progressOf(j)
	status := j.StatusString()
	if status == "" {
		status = "unknown"
	}
	// Appended piece by piece rather than with fmt: this line is built on every get_bulk_delete.
	b := make([]byte, 0, 128)
	b = append(b, j.ID...)
	b = append(b, ": "...)
	b = append(b, status...)
	b = append(b, ", "...)
	b = append(b, j.BulkObjectType...)
	b = append(b, ", "...)
	b = strconv.AppendInt(b, int64(p.Processed), 10)
	b = append(b, '/')
	if p.Total != nil {
		b = strconv.AppendInt(b, int64(*p.Total), 10)
	} else {
		b = append(b, '?')
	}
	b = append(b, " processed"...)
	if p.Percent != nil {
		b = append(b, " ("...)
		b = strconv.AppendFloat(b, *p.Percent, 'f', 1, 64)
		b = append(b, "%)"...)
	}
	if j.DateCreated != nil && !j.DateCreated.IsZero() {
		b = append(b, ", created "...)
		b = j.DateCreated.UTC().AppendFormat(b, time.RFC3339)
	}
	return string(b)
}

// structuredResult is a success: structuredContent for clients that read it,
// then two text blocks for those that only read content — a readable summary
// first (what a model shows the person), then the same data as JSON, as the
// MCP spec asks of tools that declare an output schema.
func structuredResult(out any, summary string) *mcp.CallToolResult {
	res := mcp.NewToolResultStructured(out, summary)
	if data, err := json.Marshal(out); err == nil {
		// mcp-go writes RawStructuredContent, when set, as structuredContent: one marshal
		// serves both copies. StructuredContent stays for in-process readers.
		res.RawStructuredContent = data
		res.Content = append(res.Content, mcp.NewTextContent(string(data)))
	}
	return res
}
