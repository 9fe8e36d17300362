package tools

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

var approvalURLLine = regexp.MustCompile(`(?m)^approval_url: http://127\.0\.0\.1:\d+/approve/[A-Za-z0-9_-]{43}$`)

func TestKnownBroken(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"claude-ai":                   true,
		"local-agent-mode-bulkguard":  true,
		"local-agent-mode-":           true,
		"claude-code":                 false,
		"claude-ai-something":         false,
		"Visual Studio Code":          false,
		"":                            false,
		"local-agent-mode":            false,
		"mcp-inspector":               false,
		"cursor-vscode":               false,
		"tools-test":                  false,
		"local-agent-mode-x/../other": true,
	} {
		if got := knownBroken(name) != nil; got != want {
			t.Errorf("knownBroken(%q) = %v, want %v", name, got, want)
		}
	}
}

// named connects an in-process client that calls itself name.
func named(t *testing.T, f *fixture, e era, name string, h client.ElicitationHandler) *client.Client {
	t.Helper()
	c, err := client.NewInProcessClientWithOptions(f.srv, clientOpts(e, h)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	testkit.Initialize(t, c, name, 20*time.Second)
	return c
}

// TestKnownClientsAreNotSentForms: Claude Desktop (claude-ai) and its Code
// tab (local-agent-mode-…) declare elicitation or not, but never show it;
// they get the page's link and the typed-phrase route instead, in both
// eras.
func TestKnownClientsAreNotSentForms(t *testing.T) {
	for _, name := range []string{"claude-ai", "local-agent-mode-bulkguard"} {
		for _, e := range eras {
			t.Run(name+"/"+e.name, func(t *testing.T) {
				f := newFixture(t, fixtureOpts{approvals: true})
				never := typing("SHOULD NOT BE ASKED")
				c := named(t, f, e, name, never)
				_, q := f.pickLeads(2)
				p := preview(t, c, map[string]any{"s_query": q})
				res := call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID})
				wantRefusal(t, res, guards.CodeConfirmationMissing)
				text := resultText(res)
				if !approvalURLLine.MatchString(text) || !strings.Contains(text, "type "+p.ConfirmationPhrase+" there themselves") {
					t.Fatalf("refusal lacks the approval link or the phrase: %s", text)
				}
				f.wantCreates(t, 0)
				var out createResult
				structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &out)
				if out.Receipt.ConfirmedBy != guards.ConfirmedByPhrase {
					t.Fatalf("confirmed by %q", out.Receipt.ConfirmedBy)
				}
				if never.times() != 0 {
					t.Fatalf("%s was sent %d elicitations", name, never.times())
				}
			})
		}
	}
}

// stalling is a client that declares forms and never answers one, until
// the server gives up (or, as a backstop, 20 s pass).
type stalling struct{ asked chan struct{} }

func (s *stalling) Elicit(ctx context.Context, _ mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	s.asked <- struct{}{}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(20 * time.Second):
		return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionCancel}}, nil
	}
}

// TestElicitationDeadline: a legacy client that declares forms but never
// answers gets a refusal within the server's deadline, offering the page
// (or, without one, the typed phrase), and nothing is deleted.
func TestElicitationDeadline(t *testing.T) {
	for _, tc := range []struct {
		name      string
		approvals bool
		want      string
	}{
		{"with the page", true, "approval_url: "},
		{"without the page", false, "pass exactly that as confirm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{approvals: tc.approvals, elicitTimeout: 300 * time.Millisecond})
			h := &stalling{asked: make(chan struct{}, 4)}
			c := named(t, f, eras[0], "stalling-client", h)
			_, q := f.pickLeads(2)
			p := preview(t, c, map[string]any{"s_query": q})
			res := call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID})
			wantRefusal(t, res, guards.CodeConfirmationMissing)
			wantError(t, res, "did not answer the confirmation within 300ms", tc.want)
			if len(h.asked) != 1 {
				t.Fatalf("the client was asked %d times, want 1", len(h.asked))
			}
			f.wantCreates(t, 0)
		})
	}
}

// TestPageModeRefusesEveryOtherRoute: under --confirm=page the typed
// phrase and a form both go unused; the refusal hands out the page.
func TestPageModeRefusesEveryOtherRoute(t *testing.T) {
	for _, e := range eras {
		t.Run(e.name, func(t *testing.T) {
			f := newFixture(t, fixtureOpts{approvals: true, confirm: guards.ConfirmPage})
			form := readingForm()
			c := inProcess(t, f.srv, e, form)
			_, q := f.pickLeads(2)
			p := preview(t, c, map[string]any{"s_query": q})
			res := call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase})
			wantRefusal(t, res, guards.CodeApprovalRequired)
			if !approvalURLLine.MatchString(resultText(res)) {
				t.Fatalf("no approval link: %s", resultText(res))
			}
			if form.times() != 0 {
				t.Fatalf("a form was shown %d times under --confirm=page", form.times())
			}
			f.wantCreates(t, 0)
		})
	}
}
