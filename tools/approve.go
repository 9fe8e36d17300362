package tools

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/approval"
)

// approveID keys the URL-mode elicitation that opens the approval page, as
// elicitID keys the form.
const approveID = "approve"

// DefaultElicitTimeout bounds each wait for the person: a form's answer, or
// the approval after a URL elicitation was accepted. It is under the 60 s
// after which Claude Desktop cancels a call (docs/mcp-notes.md §D.1), so
// bulkguard answers first and can still offer the page.
const DefaultElicitTimeout = 50 * time.Second

// route is how the person is asked for this call.
type route int

const (
	// routeArg: no elicitation. The phrase comes in confirm, or the result
	// hands the model the approval page's link to show.
	routeArg route = iota
	// routeForm: a form elicitation in the client.
	routeForm
	// routeURL: a URL elicitation that opens the approval page.
	routeURL
)

// knownClient is a client whose declared capabilities do not match what it
// does (by clientInfo.name at initialize, or per request in 2026-07-28).
// The README's "Clients and confirmation routes" table is this list.
type knownClient struct {
	// name is the exact clientInfo.name, or a prefix when it ends in "-".
	name string
	// why is what it does, for the log.
	why string
}

// knownClients never get an elicitation: the person would wait for a form
// that does not come, and the call would be cancelled or hang.
var knownClients = []knownClient{
	// Claude Desktop (chat, Cowork): declares elicitation but never draws
	// the form; the call is cancelled after about 60 s, Cowork answers
	// cancel at once, and 2026-07-28 input requests hang (docs/mcp-notes.md §D.1).
	{name: "claude-ai", why: "Claude Desktop declares elicitation but does not show it"},
	// Claude Desktop's Code tab names itself local-agent-mode-<server> and
	// declares no elicitation; listed so that a future declaration is not
	// trusted before it is seen to work.
	{name: "local-agent-mode-", why: "Claude Desktop's Code tab does not show elicitations"},
}

// clientName is the client's clientInfo.name for this request.
func clientName(ctx context.Context) string {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		if info.ClientInfo != nil {
			return info.ClientInfo.Name
		}
		return ""
	}
	if sess, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return sess.GetClientInfo().Name
	}
	return ""
}

// knownBroken returns the entry for a client that must not be sent an
// elicitation, or nil.
func knownBroken(name string) *knownClient {
	for i, k := range knownClients {
		if name == k.name || (strings.HasSuffix(k.name, "-") && strings.HasPrefix(name, k.name)) {
			return &knownClients[i]
		}
	}
	return nil
}

// elicitModes reports which elicitation modes this request's client can
// really be sent (docs/mcp-notes.md §A.5). A modern (2026-07-28) request
// declares its capabilities in its own _meta; a legacy one declared them at
// initialize, and its session must also be able to carry the server's
// elicitation/create request, which legacy SSE sessions cannot. An empty
// elicitation capability means form only (spec). Clients in knownClients
// get none, whatever they declare.
//
// Sending input requests to a client that did not declare elicitation
// breaks the spec and surfaces as a JSON-RPC error instead of a tool
// result (docs/mcp-notes.md §A.12), hence the check before every elicitation.
func elicitModes(ctx context.Context) (form, url bool) {
	var c *mcp.ClientCapabilities
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		c = info.ClientCapabilities
	} else if sess, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		if _, ok := sess.(server.SessionWithElicitation); !ok {
			return false, false
		}
		cc := sess.GetClientCapabilities()
		c = &cc
	}
	if c == nil || c.Elicitation == nil || knownBroken(clientName(ctx)) != nil {
		return false, false
	}
	e := c.Elicitation
	return e.Form != nil || e.URL == nil, e.URL != nil
}

// routeFor picks how to ask the person under mode.
func (t *toolset) routeFor(ctx context.Context, mode guards.ConfirmMode) route {
	if mode == guards.ConfirmPhrase {
		// Never a form or a page: for clients that declare elicitation but
		// cannot show it, so that deleting stays possible there.
		return routeArg
	}
	form, url := elicitModes(ctx)
	switch {
	case form && mode != guards.ConfirmPage:
		return routeForm
	case url && t.d.Approvals != nil:
		return routeURL
	}
	return routeArg
}

func (t *toolset) elicitTimeout() time.Duration {
	if t.d.ElicitTimeout > 0 {
		return t.d.ElicitTimeout
	}
	return DefaultElicitTimeout
}

// action is the approval's action for a pending confirmation.
func action(p *guards.Pending) string {
	if p.Purpose != "" {
		return p.Purpose
	}
	return "confirm"
}

// approvalRequest is what the page shows for p.
func (t *toolset) approvalRequest(p *guards.Pending, principal string) approval.Request {
	r := approval.Request{
		Action: action(p), Target: p.Target, Principal: principal, Phrase: p.Phrase,
		Title: "Approve " + action(p) + " " + p.Target, Summary: p.Message,
		Irreversible: true, Environment: t.env(), ExpiresAt: p.ExpiresAt,
	}
	if pl := p.Plan; pl != nil {
		r.Title = "Delete " + plural(pl.WillDelete, pl.ObjectType)
		r.Summary, r.Count, r.ObjectType, r.Warnings = pl.Summary, pl.WillDelete, pl.ObjectType, pl.Warnings
		r.Environment = t.envOr(pl.Environment)
		for _, s := range pl.Sample {
			r.Sample = append(r.Sample, approval.Item{ID: s.ID, Name: s.DisplayName, Detail: sampleDetail(s)})
		}
	}
	if j := p.Job; j != nil {
		r.Title = "Resume bulk delete " + j.ID
		r.ObjectType = j.BulkObjectType
		if j.NObjects != nil {
			r.Count = max(*j.NObjects-j.NObjectsProcessed, 0)
		}
	}
	return r
}

// plural names n objects of type t: "1 lead", "42 leads".
func plural(n int, t string) string {
	if n == 1 {
		return strconv.Itoa(n) + " " + t
	}
	return strconv.Itoa(n) + " " + t + "s"
}

// offerPage opens (or reopens) the approval page for p.
func (t *toolset) offerPage(p *guards.Pending, principal string) (string, error) {
	return t.d.Approvals.Offer(t.approvalRequest(p, principal))
}

// askOnPage answers a call that no elicitation can confirm: it offers the
// approval page and returns a refusal whose text carries the link for the
// model to show (isError results carry no structuredContent, §0.9, so the
// text is what every client passes on). The link is in the result only,
// never in the audit record or the log: it is the page's capability.
func (t *toolset) askOnPage(p *guards.Pending, principal, target, why string, mode guards.ConfirmMode) *mcp.CallToolResult {
	link, err := t.offerPage(p, principal)
	if err != nil {
		return errorResult("The approval page could not be started (" + err.Error() + "). Nothing was deleted. Try again; if it keeps failing, ask the operator.")
	}
	code, problem := guards.CodeApprovalRequired, "the person has not approved this on the approval page yet"
	if mode == guards.ConfirmAuto {
		code = guards.CodeConfirmationMissing
	}
	if why != "" {
		problem = why + "; " + problem
	}
	next := "Show the person the approval_url below and ask them to open it in their browser, check what it shows and type " + p.Phrase +
		" there themselves. When they say they approved it, call the tool again (same arguments, no confirm)."
	if mode == guards.ConfirmAuto {
		next += " If they cannot open it, they may type " + p.Phrase + " to you instead and you pass exactly that as confirm; never type it for them."
	}
	return errorResult(refusalText(t.refuse(&guards.Refusal{Code: code, Problem: problem, Next: next}, principal, target)) +
		"\napproval_url: " + link)
}

// urlParams is the URL-mode elicitation that opens the page.
func urlParams(p *guards.Pending, link string) mcp.ElicitationParams {
	id := make([]byte, 12)
	_, _ = rand.Read(id) // crypto/rand.Read never fails (Go 1.24+)
	return mcp.ElicitationParams{
		Mode:          mcp.ElicitationModeURL,
		ElicitationID: "bulkguard-" + base64.RawURLEncoding.EncodeToString(id),
		URL:           link,
		Message:       "Open bulkguard's approval page to check what will happen and type " + p.Phrase + " there to approve. Nothing happens without it; it cannot be undone.",
	}
}

// awaitApproval waits (bounded) for the person to approve p on the page,
// then takes the approval and runs the step.
func (t *toolset) awaitApproval(ctx context.Context, principal string, c confirmation) *mcp.CallToolResult {
	pending, err := c.begin(ctx)
	if err != nil {
		return failure(err, c.eff, c.what)
	}
	wctx, cancel := context.WithTimeout(ctx, t.elicitTimeout())
	defer cancel()
	t.d.Approvals.Wait(wctx, action(pending), pending.Target, principal)
	// Fresh: the plan or job may have changed while the person read.
	if pending, err = c.begin(ctx); err != nil {
		return failure(err, c.eff, c.what)
	}
	if t.d.Approvals.Take(action(pending), pending.Target, principal, pending.Phrase) {
		return c.run(ctx, guards.Confirmation{By: guards.ConfirmedByPage, Phrase: pending.Phrase})
	}
	return t.askOnPage(pending, principal, c.target, "no approval arrived within "+t.elicitTimeout().String()+" of opening the page", t.d.Guard.Policy().Confirm)
}

// refusalText is the text of a refusal result.
func refusalText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}
