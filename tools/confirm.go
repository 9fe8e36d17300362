package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// elicitID keys the confirmation form among a call's input requests.
const elicitID = "confirm"

// canElicitForm reports whether the client of this request can show a form
// elicitation (mcp-notes.md §A.5). A modern (2026-07-28) request declares
// its capabilities in its own _meta; a legacy one declared them at
// initialize, and its session must also be able to carry the server's
// elicitation/create request, which legacy SSE sessions cannot. An empty
// elicitation capability means form only (spec); a client that declared
// only url mode must not be sent a form.
//
// Sending input requests to a client that did not declare elicitation
// breaks the spec and surfaces as a JSON-RPC error instead of a tool
// result (mcp-notes.md §A.12), hence the check before every elicitation.
func canElicitForm(ctx context.Context) bool {
	var c *mcp.ClientCapabilities
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		c = info.ClientCapabilities
	} else if sess, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		if _, ok := sess.(server.SessionWithElicitation); !ok {
			return false
		}
		cc := sess.GetClientCapabilities()
		c = &cc
	}
	return c != nil && c.Elicitation != nil && (c.Elicitation.Form != nil || c.Elicitation.URL == nil)
}

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
// When the client can show a form, the person is always asked through it,
// even if the call also carries confirm: a model must not be able to skip
// the person by filling in the argument itself. The first call returns an
// input_required result whose requestState is sealed by the guard (bound to
// the target, the credential, the phrase, an expiry and a single-use
// nonce). The second call (a modern client's retry, or mcp-go's legacy
// bridge re-invoking this handler after its elicitation/create round trip,
// server/mrtr.go) carries the answer: the state must open, the answer must
// be accept, and the typed phrase must equal the phrase exactly. Decline,
// cancel, a wrong phrase or a bad state each end in an isError refusal and
// nothing is sent to Close.
//
// When the client cannot show a form, confirm must equal the phrase; the
// guard checks it (and refuses phrase confirmation outright in elicit mode),
// so the check and its audit record live in one place.
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
	// With --confirm=phrase the form is never used, even when the client
	// declares it: some clients declare elicitation but answer cancel
	// without showing anything, which would make every delete impossible.
	if mode != guards.ConfirmPhrase && canElicitForm(ctx) {
		state, err := t.d.Guard.SealState(pending, principal)
		if err != nil {
			// Only a programming fault (no principal) gets here; say so
			// plainly and keep the data safe.
			return errorResult("The confirmation could not be prepared: " + err.Error() + ". Nothing was deleted. Try again; if it keeps failing, report it.")
		}
		return server.NewInputRequestBuilder(state).Elicit(elicitID, mcp.ElicitationParams{
			Mode:            mcp.ElicitationModeForm,
			Message:         elicitMessage(pending),
			RequestedSchema: phraseSchema(pending.Phrase),
		}).ToolResult()
	}
	return c.run(ctx, guards.Confirmation{By: guards.ConfirmedByPhrase, Phrase: confirm})
}

// confirmed handles the call that carries the person's answer.
func (t *toolset) confirmed(ctx context.Context, req mcp.CallToolRequest, principal string, c confirmation) *mcp.CallToolResult {
	// The state comes back through the client and is attacker-controlled:
	// it must open (intact, ours, this credential, this target, not
	// expired, first use) before the answer means anything.
	if err := t.d.Guard.OpenState(req.Params.RequestState, principal, c.target); err != nil {
		return failure(err, c.eff, c.what)
	}
	answer := server.ElicitationResponse(req.Params.InputResponses, elicitID)
	if answer == nil {
		return t.refuse(&guards.Refusal{
			Code:    guards.CodeConfirmationInvalid,
			Problem: "the client returned no answer to the confirmation form",
			Next:    "Call the tool again so the person can be asked once more.",
		}, principal, c.target)
	}
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
			Problem: fmt.Sprintf("the client answered the confirmation form with %q, which is not accept, decline or cancel", answer.Action),
			Next:    "Call the tool again so the person can be asked once more.",
		}, principal, c.target)
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
