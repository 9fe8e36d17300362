package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// elicitID keys the confirmation form among a call's input requests.
const elicitID = "confirm"

// confirmation is one destructive step that needs the person's typed
// phrase: create (target = plan id) or resume (target = job id).
type confirmation struct {
	target string
	// begin runs the guard's checks without side effects and returns what
	// the person must confirm.
	begin func(ctx context.Context) (*guards.Pending, error)
	// run performs the step once confirmed.
	run func(ctx context.Context, c guards.Confirmation) *mcp.CallToolResult
	// eff is what a failure of begin means for the data.
	eff effect
	// what names the target for Close 404s.
	what string
}

// confirmAndRun gets the person's confirmation and then runs the step.
//
// The route depends on the mode and the client (routeFor):
//   - a form, when the client can show one: the person is always asked
//     through it, even if the call also carries confirm, so a model cannot
//     skip the person by filling in the argument itself;
//   - a URL elicitation opening bulkguard's approval page, when the client
//     takes URL mode but no form (or under --confirm=page);
//   - otherwise the phrase in confirm (auto and phrase modes), or a refusal
//     carrying the approval page's link for the model to show.
//
// An approval the person already gave on the page is taken first, so after
// approving they only tell the model to call again.
//
// A modern (2026-07-28) client gets an input_required result whose
// requestState is sealed by the guard (bound to the target, the
// credential, the phrase, an expiry and a single-use nonce) and calls again
// with the answer (confirmed). A legacy client is asked here, with a
// deadline under the client's own (elicitTimeout), instead of through
// mcp-go's bridge, which would wait as long as the client does. Decline,
// cancel, a wrong phrase, no answer or a bad state each end in an isError
// refusal and nothing is sent to Close. The guard checks the confirmation
// again (and refuses a route the mode does not allow), so the check and its
// audit record live in one place.
func (t *toolset) confirmAndRun(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client, confirm string, c confirmation) *mcp.CallToolResult {
	principal := cl.Principal()
	mode := t.d.Guard.Policy().Confirm
	if mode != guards.ConfirmPhrase && (len(req.Params.InputResponses) > 0 || req.Params.RequestState != "") {
		return t.confirmed(ctx, req, principal, c)
	}
	pending, err := c.begin(ctx)
	if err != nil {
		return failure(err, c.eff, c.what)
	}
	if t.d.Approvals != nil && mode != guards.ConfirmPhrase && t.d.Approvals.Take(action(pending), pending.Target, principal, pending.Phrase) {
		return c.run(ctx, guards.Confirmation{By: guards.ConfirmedByPage, Phrase: pending.Phrase})
	}
	switch t.routeFor(ctx, mode) {
	case routeForm:
		return t.elicit(ctx, principal, pending, c, elicitID, mcp.ElicitationParams{
			Mode:            mcp.ElicitationModeForm,
			Message:         elicitMessage(pending),
			RequestedSchema: phraseSchema(pending.Phrase),
		})
	case routeURL:
		link, err := t.offerPage(pending, principal)
		if err != nil {
			return errorResult("The approval page could not be started (" + err.Error() + "). Nothing was deleted. Try again; if it keeps failing, ask the operator.")
		}
		return t.elicit(ctx, principal, pending, c, approveID, urlParams(pending, link))
	}
	// No elicitation. Where the page is on offer and the phrase in confirm
	// does not count (elicit and page modes) or was not given, hand out
	// the page's link; otherwise the guard judges the phrase.
	if t.d.Approvals != nil && mode != guards.ConfirmPhrase && (mode != guards.ConfirmAuto || confirm == "") {
		why := ""
		if confirm != "" {
			why = "this server does not take the phrase as the confirm argument (--confirm=" + string(mode) + ": only the approval page"
			if mode == guards.ConfirmElicit {
				why += " or the client's elicitation form"
			}
			why += ")"
		}
		return t.askOnPage(pending, principal, c.target, why, mode)
	}
	return c.run(ctx, guards.Confirmation{By: guards.ConfirmedByPhrase, Phrase: confirm})
}

// elicit asks the person through the client: a modern client gets the
// input requests to answer and call again with; a legacy one is asked here
// and now, bounded by elicitTimeout.
func (t *toolset) elicit(ctx context.Context, principal string, pending *guards.Pending, c confirmation, id string, params mcp.ElicitationParams) *mcp.CallToolResult {
	srv := server.ServerFromContext(ctx)
	if info := server.RequestProtocolInfoFromContext(ctx); (info != nil && info.Modern) || srv == nil {
		state, err := t.d.Guard.SealState(pending, principal)
		if err != nil {
			// Only a programming fault (no principal) gets here; say so
			// plainly and keep the data safe.
			return errorResult("The confirmation could not be prepared: " + err.Error() + ". Nothing was deleted. Try again; if it keeps failing, report it.")
		}
		return server.NewInputRequestBuilder(state).Elicit(id, params).ToolResult()
	}
	ectx, cancel := context.WithTimeout(ctx, t.elicitTimeout())
	defer cancel()
	answer, err := srv.RequestElicitation(ectx, mcp.ElicitationRequest{
		Request: mcp.Request{Method: string(mcp.MethodElicitationCreate)},
		Params:  params,
	})
	switch {
	case err == nil && answer != nil:
		return t.answered(ctx, principal, c, id, answer)
	case ctx.Err() != nil:
		return failure(ctx.Err(), c.eff, c.what)
	case errors.Is(err, context.DeadlineExceeded):
		why := "the client did not answer the confirmation within " + t.elicitTimeout().String() + " (some clients declare forms they never show)"
		if t.d.Approvals != nil && t.d.Guard.Policy().Confirm != guards.ConfirmPhrase {
			return t.askOnPage(pending, principal, c.target, why, t.d.Guard.Policy().Confirm)
		}
		return t.refuse(&guards.Refusal{Code: guards.CodeConfirmationMissing, Problem: why,
			Next: "Ask the person to type " + pending.Phrase + " themselves and pass exactly that as confirm."}, principal, c.target)
	}
	return t.refuse(&guards.Refusal{Code: guards.CodeConfirmationInvalid,
		Problem: "the client could not show the confirmation (" + guards.Clip(fmt.Sprint(err), 200) + ")",
		Next:    "Call the tool again; if it keeps failing, ask the operator to run with --confirm=page or --confirm=phrase."}, principal, c.target)
}

// confirmed handles a modern client's call that carries the person's answer.
func (t *toolset) confirmed(ctx context.Context, req mcp.CallToolRequest, principal string, c confirmation) *mcp.CallToolResult {
	// The state comes back through the client and is attacker-controlled:
	// it must open (intact, ours, this credential, this target, not
	// expired, first use) before the answer means anything.
	if err := t.d.Guard.OpenState(ctx, req.Params.RequestState, principal, c.target); err != nil {
		return failure(err, c.eff, c.what)
	}
	id := elicitID
	answer := server.ElicitationResponse(req.Params.InputResponses, elicitID)
	if t.d.Approvals != nil {
		if a := server.ElicitationResponse(req.Params.InputResponses, approveID); a != nil {
			id, answer = approveID, a
		}
	}
	if answer == nil || (id == elicitID && t.d.Guard.Policy().Confirm == guards.ConfirmPage) {
		// Under --confirm=page no form was asked, so a form answer is not
		// the person's.
		return t.refuse(&guards.Refusal{
			Code:    guards.CodeConfirmationInvalid,
			Problem: "the client returned no answer to the confirmation it was asked",
			Next:    "Call the tool again so the person can be asked once more.",
		}, principal, c.target)
	}
	return t.answered(ctx, principal, c, id, answer)
}

// answered judges the person's answer to the form (id elicitID) or to the
// URL elicitation (approveID, where accept only means they opened the
// page: the approval itself comes from the page).
func (t *toolset) answered(ctx context.Context, principal string, c confirmation, id string, answer *mcp.ElicitationResult) *mcp.CallToolResult {
	switch answer.Action {
	case mcp.ElicitationResponseActionAccept:
	case mcp.ElicitationResponseActionDecline:
		return t.refuse(&guards.Refusal{
			Code:    guards.CodeConfirmationMissing,
			Problem: "the person declined the confirmation",
			Next:    "Do not try again unless the person asks you to.",
		}, principal, c.target)
	case mcp.ElicitationResponseActionCancel:
		return t.refuse(&guards.Refusal{
			Code:    guards.CodeConfirmationMissing,
			Problem: "the confirmation was cancelled (the person closed the form, or the client answered without showing it)",
			Next:    "Ask the person whether they want to go ahead; only if they say so, call the tool again.",
		}, principal, c.target)
	default:
		return t.refuse(&guards.Refusal{
			Code:    guards.CodeConfirmationInvalid,
			Problem: fmt.Sprintf("the client answered the confirmation with %q, which is not accept, decline or cancel", answer.Action),
			Next:    "Call the tool again so the person can be asked once more.",
		}, principal, c.target)
	}
	if id == approveID {
		return t.awaitApproval(ctx, principal, c)
	}
	// The phrase to compare against comes from the guard again (a fresh,
	// side-effect-free check of the plan or job), never from the client.
	pending, err := c.begin(ctx)
	if err != nil {
		return failure(err, c.eff, c.what)
	}
	typed, ok := phraseFrom(answer.Content)
	if !ok || typed != pending.Phrase {
		problem := "the person did not type the confirmation phrase"
		if ok && typed != "" {
			problem = fmt.Sprintf("the person typed %q, which is not the confirmation phrase %q", guards.Clip(typed, 80), pending.Phrase)
		}
		return t.refuse(&guards.Refusal{
			Code:    guards.CodeConfirmationMismatch,
			Problem: problem,
			Next:    "The phrase must be typed exactly, capitals included. Call the tool again if the person wants to retry.",
		}, principal, c.target)
	}
	return c.run(ctx, guards.Confirmation{By: guards.ConfirmedByElicitation, Phrase: typed})
}

// refuse records a refusal decided in this package (the person's decline,
// cancel or wrong phrase in the form) on the audit log through the guard,
// as the guard does with its own, and renders it.
func (t *toolset) refuse(r *guards.Refusal, principal, target string) *mcp.CallToolResult {
	t.log.Info("bulkguard.refusal", "code", r.Code, "target", target)
	_ = t.d.Guard.RecordRefusal(principal, target, r)
	return refusalResult(r)
}

// phraseFrom reads the typed phrase from the form's content.
func phraseFrom(content any) (string, bool) {
	m, ok := content.(map[string]any)
	if !ok {
		return "", false
	}
	s, ok := m["phrase"].(string)
	return s, ok
}

// elicitMessage is what the form shows: the guard's account of what will
// happen (summary, count, sample) and the phrase to type.
func elicitMessage(p *guards.Pending) string {
	msg := strings.TrimSpace(p.Message)
	if !strings.Contains(msg, p.Phrase) {
		if msg != "" {
			msg += "\n\n"
		}
		msg += "Type " + p.Phrase + " to confirm. This cannot be undone."
	}
	return msg
}

// phraseSchema is the form: one required text field.
func phraseSchema(phrase string) map[string]any {
	return map[string]any{
		"type": "object",
		"properties": map[string]any{
			"phrase": map[string]any{
				"type":        "string",
				"title":       "Confirmation phrase",
				"description": "Type " + phrase + " exactly to confirm.",
			},
		},
		"required": []string{"phrase"},
	}
}
