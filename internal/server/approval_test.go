package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/internal/testkit/browser"
	"github.com/bulkguard/bulkguard/sandbox"
)

var approvalURL = regexp.MustCompile(`approval_url: (http://127\.0\.0\.1:\d+/approve/[A-Za-z0-9_-]+)`)

func approvalServer(t *testing.T, mode guards.ConfirmMode) *Server {
	t.Helper()
	s, cleanup, err := New(Config{
		AuditLog:       filepath.Join(t.TempDir(), "audit.jsonl"),
		SandboxOptions: sandbox.Options{Seed: 3, Leads: 40},
		Policy:         guards.Policy{Confirm: mode},
		Version:        "approval-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	return s
}

// connectAs connects an in-process client called name; legacy pins it to
// the 2025-11-25 protocol, else it speaks 2026-07-28.
func connectAs(t *testing.T, s *Server, name string, legacy bool, opts ...client.ClientOption) *client.Client {
	t.Helper()
	if legacy {
		opts = append(opts, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	}
	c, err := client.NewInProcessClientWithOptions(s.MCP(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	testkit.Initialize(t, c, name, 20*time.Second)
	return c
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// previewPlan previews n leads and returns the plan id and phrase.
func previewPlan(t *testing.T, s *Server, c *client.Client, n int) (planID, phrase string) {
	t.Helper()
	_, q := testkit.LastLeads(t, s.Sandbox().LeadIDs(), n)
	res := callTool(t, c, "preview_bulk_delete", map[string]any{"s_query": q})
	var p struct {
		PlanID string `json:"plan_id"`
		Phrase string `json:"confirmation_phrase"`
	}
	b, _ := json.Marshal(res.StructuredContent)
	if res.IsError || json.Unmarshal(b, &p) != nil || p.PlanID == "" {
		t.Fatalf("preview: %s", testkit.ResultText(res))
	}
	return p.PlanID, p.Phrase
}

// approveInBrowser opens the page and types phrase, as the person would.
func approveInBrowser(t *testing.T, ctx context.Context, link, phrase string) {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(link))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("open the approval page: %v (status %v)", err, resp)
	}
	resp, err = chromedp.RunResponse(ctx,
		chromedp.SendKeys(chromedp.CSS("#phrase"), phrase),
		chromedp.Click(chromedp.CSS("#approve")))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("approve: %v (status %v)", err, resp)
	}
}

func confirmedBy(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if res.IsError {
		t.Fatalf("create failed: %s", testkit.ResultText(res))
	}
	var out struct {
		Receipt struct {
			ConfirmedBy string `json:"confirmed_by"`
		} `json:"receipt"`
	}
	b, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out.Receipt.ConfirmedBy
}

// TestApprovalPageRoute: under --confirm=page, a client that declares
// forms but is known not to show them (Claude Desktop, clientInfo
// claude-ai) is never sent one; the create's refusal carries the page's
// link, the model typing the phrase does not count, the person approving
// in a real browser does, and the link works once.
func TestApprovalPageRoute(t *testing.T) {
	s := approvalServer(t, guards.ConfirmPage)
	c := connectAs(t, s, "claude-ai", true, client.WithElicitationHandler(elicitNever{t}))
	planID, phrase := previewPlan(t, s, c, 3)

	res := callTool(t, c, "create_bulk_delete", map[string]any{"plan_id": planID, "confirm": phrase})
	text := testkit.ResultText(res)
	m := approvalURL.FindStringSubmatch(text)
	if !res.IsError || !strings.Contains(text, "Refused ("+guards.CodeApprovalRequired+")") || m == nil {
		t.Fatalf("create with a typed-through phrase under --confirm=page: %s", text)
	}
	link := m[1]
	if got := s.Sandbox().Requests("POST", "/api/v1/bulk_action/delete/"); got != 0 {
		t.Fatalf("%d creates reached Close before the approval", got)
	}

	ctx := browser.New(t, 90*time.Second)
	approveInBrowser(t, ctx, link, phrase)

	if by := confirmedBy(t, callTool(t, c, "create_bulk_delete", map[string]any{"plan_id": planID})); by != guards.ConfirmedByPage {
		t.Fatalf("confirmed by %q, want page", by)
	}
	if got := s.Sandbox().Requests("POST", "/api/v1/bulk_action/delete/"); got != 1 {
		t.Fatalf("%d creates reached Close, want 1", got)
	}
	// The same link twice: refused, and the plan is used up.
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(link))
	if err != nil || resp.Status != http.StatusGone {
		t.Fatalf("the used link: %v (status %v)", err, resp)
	}
	res = callTool(t, c, "create_bulk_delete", map[string]any{"plan_id": planID})
	if !res.IsError || !strings.Contains(testkit.ResultText(res), guards.CodePlanConsumed) {
		t.Fatalf("second create: %s", testkit.ResultText(res))
	}
}

// elicitNever fails the test if the server sends an elicitation.
type elicitNever struct{ t *testing.T }

func (e elicitNever) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	e.t.Errorf("the server sent an elicitation to a client known not to show it")
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionCancel}}, nil
}

// urlPerson is a client that takes URL-mode elicitations only: it opens
// the URL in the browser and the person approves there.
type urlPerson struct {
	t      *testing.T
	ctx    context.Context
	phrase string
	opened []string
}

func (p *urlPerson) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	if req.Params.Mode != mcp.ElicitationModeURL {
		p.t.Errorf("a %q elicitation was sent to a client that declared url mode only", req.Params.Mode)
		return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}, nil
	}
	p.opened = append(p.opened, req.Params.URL)
	approveInBrowser(p.t, p.ctx, req.Params.URL, p.phrase)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept}}, nil
}

// TestApprovalPageURLElicitation: a client that declares URL-mode
// elicitation is sent the page's URL; once the person approves there, the
// same create call goes on.
func TestApprovalPageURLElicitation(t *testing.T) {
	ctx := browser.New(t, 3*time.Minute)
	for _, legacy := range []bool{true, false} {
		t.Run(map[bool]string{true: "legacy", false: "modern"}[legacy], func(t *testing.T) {
			s := approvalServer(t, guards.ConfirmAuto)
			p := &urlPerson{t: t, ctx: ctx}
			c := connectAs(t, s, "url-client", legacy,
				client.WithClientCapabilities(mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{URL: &struct{}{}}}),
				client.WithElicitationHandler(p))
			planID, phrase := previewPlan(t, s, c, 2)
			p.phrase = phrase
			if by := confirmedBy(t, callTool(t, c, "create_bulk_delete", map[string]any{"plan_id": planID})); by != guards.ConfirmedByPage {
				t.Fatalf("confirmed by %q, want page", by)
			}
			if len(p.opened) != 1 || !approvalURL.MatchString("approval_url: "+p.opened[0]) {
				t.Fatalf("URLs opened: %v", p.opened)
			}
		})
	}
}

// TestApprovalPageResume: the page approves any pending action, a resume
// as well as a create.
func TestApprovalPageResume(t *testing.T) {
	s, cleanup, err := New(Config{
		AuditLog:       filepath.Join(t.TempDir(), "audit.jsonl"),
		SandboxOptions: sandbox.Options{Seed: 3, Leads: 40, DeleteRate: 1, BatchSize: 1},
		Policy:         guards.Policy{Confirm: guards.ConfirmPage},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	c := connectAs(t, s, "no-forms", true)
	ctx := browser.New(t, 2*time.Minute)
	planID, phrase := previewPlan(t, s, c, 5)
	res := callTool(t, c, "create_bulk_delete", map[string]any{"plan_id": planID})
	m := approvalURL.FindStringSubmatch(testkit.ResultText(res))
	if m == nil {
		t.Fatalf("create: %s", testkit.ResultText(res))
	}
	approveInBrowser(t, ctx, m[1], phrase)
	res = callTool(t, c, "create_bulk_delete", map[string]any{"plan_id": planID})
	confirmedBy(t, res)
	var created struct {
		Job struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &created)
	if res := callTool(t, c, "pause_bulk_delete", map[string]any{"id": created.Job.ID}); res.IsError {
		t.Fatalf("pause: %s", testkit.ResultText(res))
	}
	res = callTool(t, c, "resume_bulk_delete", map[string]any{"id": created.Job.ID, "confirm": "RESUME " + created.Job.ID})
	m = approvalURL.FindStringSubmatch(testkit.ResultText(res))
	if !res.IsError || m == nil || !strings.Contains(testkit.ResultText(res), guards.CodeApprovalRequired) {
		t.Fatalf("resume with a typed-through phrase under --confirm=page: %s", testkit.ResultText(res))
	}
	if got := pageText(t, ctx, m[1], "#title"); got != "Resume bulk delete "+created.Job.ID {
		t.Fatalf("resume page title %q", got)
	}
	approveInBrowser(t, ctx, m[1], "RESUME "+created.Job.ID)
	res = callTool(t, c, "resume_bulk_delete", map[string]any{"id": created.Job.ID})
	if res.IsError || !strings.Contains(testkit.ResultText(res), "confirmed by page") {
		t.Fatalf("resume after approval: %s", testkit.ResultText(res))
	}
}

// pageText opens link and reads the text of sel.
func pageText(t *testing.T, ctx context.Context, link, sel string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestApprovalPageOnlyOnLoopback: a server listening beyond loopback
// offers no page (its clients are elsewhere), and refuses --confirm=page.
func TestApprovalPageOnlyOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		transport, listen string
		mode              guards.ConfirmMode
		wantPage          bool
		wantErr           bool
	}{
		{TransportStdio, "", guards.ConfirmPage, true, false},
		{TransportHTTP, "127.0.0.1:0", guards.ConfirmPage, true, false},
		{TransportHTTP, "localhost:0", guards.ConfirmAuto, true, false},
		{TransportHTTP, "[::1]:0", guards.ConfirmAuto, true, false},
		{TransportHTTP, "0.0.0.0:8080", guards.ConfirmAuto, false, false},
		{TransportSSE, ":8080", guards.ConfirmAuto, false, false},
		{TransportHTTP, "0.0.0.0:8080", guards.ConfirmPage, false, true},
	} {
		a, err := approvals(Config{Transport: tc.transport, Listen: tc.listen, Policy: guards.Policy{Confirm: tc.mode}}, slog.New(slog.DiscardHandler))
		var ce *ConfigError
		if (err != nil) != tc.wantErr || (err != nil && !errors.As(err, &ce)) || (a != nil) != tc.wantPage {
			t.Errorf("%s on %q, --confirm=%s: page %v, err %v; want page %v, error %v", tc.transport, tc.listen, tc.mode, a != nil, err, tc.wantPage, tc.wantErr)
		}
		if a != nil {
			_ = a.Close()
		}
	}
}
