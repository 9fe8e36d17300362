package tools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/server"
	"github.com/mark3labs/mcp-go/server/servertest"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/sandbox"
)

// TestCloseErrorsReachTheModel: Close's error answers, over real HTTP,
// become isError results a model can act on.
func TestCloseErrorsReachTheModel(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   []string
	}{
		{"401", 401, nil, `{"error":"Unauthorized"}`, []string{"Close rejected the API key (401 Unauthorized)", "Check CLOSE_API_KEY"}},
		{"403", 403, nil, `{"error":"Forbidden"}`, []string{"403 Forbidden"}},
		{"429", 429, map[string]string{"Retry-After": "7", "RateLimit": "limit=20, remaining=0, reset=7"}, `{"error":"Too many requests"}`, []string{"rate-limiting", "Wait 7s and try again"}},
		{"400", 400, nil, `{"errors":[],"field-errors":{"_limit":"Too large."}}`, []string{"400 Bad Request", "field _limit: Too large."}},
		{"400 the sandbox's limit", 400, map[string]string{closeapi.SandboxUnsupportedHeader: "1"}, `{"errors":[],"field-errors":{"queries.1.field":"timezone_id is not modelled"}}`,
			[]string{"the sandbox cannot evaluate this; Close may accept it", "timezone_id is not modelled", "set CLOSE_API_KEY"}},
		{"500", 500, nil, `oops`, []string{"500 Internal Server Error", "Try again in a minute"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(hs.Close)
			cl, err := closeapi.New(closeapi.Options{BaseURL: hs.URL + "/api/v1", APIKey: "k", MaxAttempts: 1, RetryBudget: time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			g := newGuard(t, guards.Policy{})
			c := inProcess(t, NewServer(Deps{Guard: g, Client: cl, Environment: "sandbox"}), eras[1], nil)
			for _, args := range []struct {
				tool string
				args map[string]any
			}{
				{ToolList, map[string]any{}},
				{ToolGet, map[string]any{"id": "bulkdelete_abc"}},
				{ToolLookup, map[string]any{"kind": "users"}},
			} {
				res := call(t, c, args.tool, args.args)
				wantError(t, res, append([]string{"Nothing was deleted"}, tc.want...)...)
			}
			wantError(t, call(t, c, ToolPause, map[string]any{"id": "bulkdelete_abc"}), "NOT paused")
		})
	}
}

func newGuard(t *testing.T, p guards.Policy) *guards.Guard {
	t.Helper()
	log, err := guards.OpenAuditLog(filepath.Join(t.TempDir(), "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	if p.Backup == "" {
		p.Backup = guards.BackupOff // the backup step has its own tests (internal/server)
	}
	g, err := guards.New(guards.Config{Policy: p, Audit: log, Environment: "sandbox"})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestFailureText covers the wording of failures that are awkward to
// provoke over HTTP: ambiguous creates, pauses and resumes, and the guard's
// own context.
func TestFailureText(t *testing.T) {
	t.Parallel()
	ambiguous := &closeapi.APIError{StatusCode: 504, Method: "POST", Path: "/bulk_action/delete/"}
	lostPut := &closeapi.APIError{StatusCode: 504, Method: "PUT", Path: "/bulk_action/delete/x/"}
	lostGet := &closeapi.TransportError{Method: "GET", Path: "/bulk_action/delete/x/", Sent: true}
	cases := []struct {
		name string
		err  error
		eff  effect
		want []string
		not  []string
	}{
		{"create lost", &guards.UncertainError{PlanID: "plan_x", Err: ambiguous}, effectCreate,
			[]string{"MAY HAVE STARTED", "Do not call create_bulk_delete again", "list_bulk_deletes"}, []string{"Nothing was deleted"}},
		{"create lost, two candidate jobs", &guards.UncertainError{PlanID: "plan_x", Err: ambiguous, Candidates: []string{"bulkdelete_a", "bulkdelete_b"}}, effectCreate,
			[]string{"MAY HAVE STARTED", "bulkdelete_a, bulkdelete_b", "none was adopted", "get_bulk_delete", "Do not call create_bulk_delete again"}, []string{"Nothing was deleted"}},
		{"create refused by Close", &guards.Error{Op: "the bulk delete for plan plan_x was refused by Close or could not be sent, so nothing was deleted; the plan is used up, so preview again after fixing the cause",
			Err: &closeapi.APIError{StatusCode: 400, FieldErrors: map[string]any{"s_query": "Invalid."}}}, effectCreate,
			[]string{"field s_query: Invalid.", "Nothing was deleted", "the plan is used up"}, nil},
		{"recount failed", &guards.Error{Op: "recount before deleting (nothing was sent; the plan can be retried)", Err: ambiguous}, effectCreate,
			[]string{"Nothing was deleted", "the plan can be retried"}, []string{"MAY HAVE STARTED"}},
		{"pause lost", &guards.Error{Op: "pause bulk delete x", Err: lostPut}, effectPause,
			[]string{"may or may not have reached Close", "get_bulk_delete"}, nil},
		{"pause refused", &guards.Error{Op: "pause bulk delete x", Err: &closeapi.APIError{StatusCode: 503}}, effectPause,
			[]string{"NOT paused", "still deleting"}, nil},
		{"resume failed", &closeapi.APIError{StatusCode: 503}, effectResume, []string{"stays paused"}, nil},
		{"resume lost", lostPut, effectResume, []string{"may have reached Close"}, []string{"stays paused"}},
		{"pause read failed", &guards.Error{Op: "read bulk delete x", Err: lostGet}, effectPause, []string{"NOT paused"}, nil},
		{"guard step failed, not Close", fmt.Errorf("outer: %w", &guards.Error{Op: "load plan", Err: errors.New("plan store unreachable")}), effectCreate,
			[]string{"plan store unreachable. Nothing was deleted. The guard says: load plan."}, []string{"guards:"}},
		{"guard-like text is not parsed", errors.New("guards: made up: closeapi: text"), effectCreate, nil, []string{"The guard says"}},
		{"rate limited", &closeapi.APIError{StatusCode: 429, RetryAfter: 1500 * time.Millisecond}, effectNone, []string{"Wait 2s"}, nil},
		{"cancelled", context.Canceled, effectNone, []string{"cancelled", "Nothing was deleted"}, nil},
		{"refusal", &guards.Refusal{Code: "x_code", Pointer: "/a", Problem: "bad", Next: "Fix a."}, effectCreate,
			[]string{"Refused (x_code): bad at /a. Nothing was deleted. Fix a."}, nil},
		{"wrapped refusal", fmt.Errorf("outer: %w", &guards.Refusal{Code: "y", Problem: "p", Next: "n"}), effectNone, []string{"Refused (y)"}, nil},
		{"invalid id", fmt.Errorf("bad: %w", closeapi.ErrInvalidID), effectNone, []string{"not valid"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := failure(tc.err, tc.eff, "bulk-delete job x")
			if !res.IsError || res.StructuredContent != nil {
				t.Fatalf("not a plain isError result: %+v", res)
			}
			text := resultText(res)
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("want %q in %q", w, text)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(text, n) {
					t.Errorf("did not want %q in %q", n, text)
				}
			}
		})
	}
}

// TestClientKeyHeader: over streamable HTTP, X-Close-Api-Key picks the
// Close credential when the operator allows it; plans stay bound to the
// credential that previewed them; the key never shows in a result.
func TestClientKeyHeader(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	d := f.deps
	d.AllowClientKeys = true
	d.ClientForKey = func(key string) (*closeapi.Client, error) {
		if key == "unusable" {
			return nil, errors.New("cannot use key " + key)
		}
		return closeapi.New(closeapi.Options{BaseURL: f.url, APIKey: key, MaxAttempts: 1})
	}
	hs := httptest.NewServer(server.NewStreamableHTTPServer(NewServer(d)))
	t.Cleanup(hs.Close)
	connect := func(headers map[string]string) *client.Client {
		c, err := client.NewStreamableHttpClient(hs.URL, transport.WithHTTPHeaders(headers))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		initialize(t, c, eras[1])
		return c
	}
	plain := connect(nil)
	_, q := f.pickLeads(1)
	p := preview(t, plain, map[string]any{"s_query": q})

	own := connect(map[string]string{ClientKeyHeader: sandbox.DemoAPIKey})
	var l listResult
	structured(t, call(t, own, ToolList, map[string]any{}), &l)

	wrong := connect(map[string]string{ClientKeyHeader: "wrong-key"})
	res := call(t, wrong, ToolList, map[string]any{})
	wantError(t, res, "Close rejected the API key")
	if strings.Contains(resultText(res), "wrong-key") {
		t.Fatalf("the key leaked: %s", resultText(res))
	}
	wantRefusal(t, call(t, wrong, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), guards.CodePlanForeign)

	bad := connect(map[string]string{ClientKeyHeader: "unusable"})
	res = call(t, bad, ToolList, map[string]any{})
	wantError(t, res, "could not be used")
	if strings.Contains(resultText(res), "unusable") {
		t.Fatalf("the key leaked: %s", resultText(res))
	}

	// Without AllowClientKeys the header is ignored.
	hs2 := httptest.NewServer(server.NewStreamableHTTPServer(f.srv))
	t.Cleanup(hs2.Close)
	c2, err := client.NewStreamableHttpClient(hs2.URL, transport.WithHTTPHeaders(map[string]string{ClientKeyHeader: "wrong-key"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c2.Close() })
	initialize(t, c2, eras[1])
	structured(t, call(t, c2, ToolList, map[string]any{}), &l)
}

// TestSSELegacyClient: a legacy client over HTTP+SSE may declare
// elicitation, but mcp-go's SSE sessions cannot carry the server's
// elicitation request (docs/mcp-notes.md §A.5). canElicitForm sees that, so the
// create falls back to the phrase path and answers with a tool result, not
// a JSON-RPC error.
func TestSSELegacyClient(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOpts{})
	hs := servertest.NewTestServer(f.srv)
	t.Cleanup(hs.Close)
	tr, err := transport.NewSSE(hs.URL + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	who := readingForm()
	c := client.NewClient(tr, clientOpts(eras[0], who)...)
	t.Cleanup(func() { c.Close() })
	initialize(t, c, eras[0])
	_, q := f.pickLeads(1)
	p := preview(t, c, map[string]any{"s_query": q})
	wantRefusal(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID}), guards.CodeConfirmationMissing)
	if who.times() != 0 {
		t.Fatalf("the SSE session was sent a form it cannot carry")
	}
	var cr createResult
	structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &cr)
	if cr.Receipt.ConfirmedBy != guards.ConfirmedByPhrase {
		t.Fatalf("receipt = %+v", cr.Receipt)
	}
}

// TestSandboxLimitIsNotCloseVerdict: a query the real sandbox cannot
// evaluate is reported as the sandbox's limit, never as Close's refusal.
func TestSandboxLimitIsNotCloseVerdict(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandbox.Options{Leads: 20})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sb)
	t.Cleanup(func() { hs.Close(); sb.Close() })
	cl, err := closeapi.New(closeapi.Options{BaseURL: hs.URL + "/api/v1", APIKey: sb.APIKey(), MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	c := inProcess(t, NewServer(Deps{Guard: newGuard(t, guards.Policy{}), Client: cl, Environment: "sandbox"}), eras[1], nil)
	res := call(t, c, ToolPreview, map[string]any{"s_query": map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "timezone_id"},
			"condition": map[string]any{"type": "term", "values": []any{"Europe/Prague"}}},
	}}})
	wantError(t, res, "the sandbox cannot evaluate this; Close may accept it", "Nothing was deleted")
	if text := resultText(res); strings.Contains(text, "Close rejected") {
		t.Errorf("the sandbox's limit reads as Close's refusal: %s", text)
	}
}
