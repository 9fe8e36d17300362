package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	bgserver "github.com/bulkguard/bulkguard/internal/server"
	"github.com/bulkguard/bulkguard/sandbox"
)

// writeResults makes the budget tests write their figures into results.md
// (go test ./bench -run Budget -args -write-results).
var writeResults = flag.Bool("write-results", false, "write the measured figures into bench/results.md")

// resultsPath is results.md seen from this package's directory, where
// `go test` runs the tests.
const resultsPath = "results.md"

// counter is an http.Handler in front of the sandbox that records every
// request that reaches it, so a test can say exactly which Close calls one
// tool call cost, independently of the sandbox's own bookkeeping.
type counter struct {
	next http.Handler
	mu   sync.Mutex
	seen []string // "METHOD /path/"
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.seen = append(c.seen, r.Method+" "+r.URL.Path)
	c.mu.Unlock()
	c.next.ServeHTTP(w, r)
}

// take returns the requests recorded since the last take and forgets them.
func (c *counter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.seen
	c.seen = nil
	return out
}

// rig is one sandbox behind a counting handler on a loopback httptest
// server, and bulkguard wired on it by internal/server (Close client,
// guard with its own audit log, MCP server) with an in-process client on
// that server: everything of bulkguard but the transport.
type rig struct {
	sb    *sandbox.Server
	count *counter
	url   string
	cl    *closeapi.Client
	guard *guards.Guard
	srv   *server.MCPServer
	c     *client.Client
}

func newRig(tb testing.TB, so sandbox.Options, pol guards.Policy) *rig {
	tb.Helper()
	sb, err := sandbox.New(so)
	if err != nil {
		tb.Fatalf("sandbox: %v", err)
	}
	r := &rig{sb: sb, count: &counter{next: sb}}
	hs := httptest.NewServer(r.count)
	tb.Cleanup(func() { hs.Close(); sb.Close() })
	r.url = hs.URL + "/api/v1"
	bg, cleanup, err := bgserver.New(bgserver.Config{
		Backend:   &bgserver.Backend{BaseURL: r.url, APIKey: sb.APIKey(), Environment: bgserver.EnvSandbox},
		Policy:    pol,
		AuditLog:  filepath.Join(tb.TempDir(), "audit.jsonl"),
		BackupDir: filepath.Join(tb.TempDir(), "backups"),
		Version:   "bench",
	})
	if err != nil {
		tb.Fatalf("server: %v", err)
	}
	tb.Cleanup(cleanup)
	r.cl, r.guard, r.srv = bg.Client(), bg.Guard(), bg.MCP()
	// Pinned to the 2025-11-25 era: the initialize handshake every client
	// in use today speaks. In-process, the era changes nothing the server
	// sends to Close.
	r.c, err = client.NewInProcessClientWithOptions(r.srv, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err != nil {
		tb.Fatalf("in-process client: %v", err)
	}
	tb.Cleanup(func() { r.c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.c.Start(ctx); err != nil {
		tb.Fatalf("client start: %v", err)
	}
	if _, err := r.c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "bulkguard-bench", Version: "1"},
	}}); err != nil {
		tb.Fatalf("initialize: %v", err)
	}
	return r
}

// call runs one tool and decodes its structured result into out (when out
// is not nil). An isError result fails the test with the text the model
// would have read.
func (r *rig) call(tb testing.TB, name string, args map[string]any, out any) {
	tb.Helper()
	res, err := r.callRaw(name, args)
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		tb.Fatalf("%s: isError result: %s", name, resultText(res))
	}
	if out == nil {
		return
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		tb.Fatalf("%s: structured content: %v", name, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		tb.Fatalf("%s: decode structured content %s: %v", name, b, err)
	}
}

func (r *rig) callRaw(name string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return r.c.CallTool(ctx, req)
}

func resultText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// preview is the part of preview_bulk_delete's result the benches read.
type preview struct {
	PlanID             string `json:"plan_id"`
	Total              int    `json:"total"`
	WillDelete         int    `json:"will_delete"`
	Executable         bool   `json:"executable"`
	ConfirmationPhrase string `json:"confirmation_phrase"`
	Sample             []struct {
		ID string `json:"id"`
	} `json:"sample"`
	Refusal *struct {
		Code, Problem string
	} `json:"refusal"`
}

// jobOut is the part of create/get/pause results the benches read.
type jobOut struct {
	Job struct {
		ID     string  `json:"id"`
		Status *string `json:"status"`
	} `json:"job"`
	Progress struct {
		Processed int  `json:"processed"`
		Terminal  bool `json:"terminal"`
	} `json:"progress"`
}

// junkQuery is the cleanup every bench rehearses: leads named like test
// data. The seeded organization has about 1.5% of them.
func junkQuery() map[string]any {
	return map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "name"},
			"condition": map[string]any{"type": "text", "mode": "full_words", "value": "test"}},
	}}
}

// threeConditionQuery is the sandbox issue's scale query: status, a word
// in the name and a creation date, on leads.
func threeConditionQuery(tb testing.TB, sb *sandbox.Server) map[string]any {
	tb.Helper()
	badFit, ok := sb.StatusID("Bad Fit")
	if !ok {
		tb.Fatal(`the sandbox has no "Bad Fit" status`)
	}
	return map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "status_id"},
			"condition": map[string]any{"type": "reference", "reference_type": "status.lead", "object_ids": []any{badFit}}},
		map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "name"},
			"condition": map[string]any{"type": "text", "mode": "full_words", "value": "test"}},
		map[string]any{"type": "field_condition",
			"field": map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"},
			"condition": map[string]any{"type": "moment_range", "on_or_after": nil,
				"before": map[string]any{"type": "offset", "direction": "past", "moment": map[string]any{"type": "now"},
					"offset":        map[string]any{"years": 0, "months": 0, "weeks": 0, "days": 7, "hours": 0, "minutes": 0, "seconds": 0},
					"which_day_end": "start"}}},
	}}
}

// everyLeadQuery matches every lead without being a match-everything query
// the guard refuses: leads created before tomorrow.
func everyLeadQuery() map[string]any {
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Format("2006-01-02")
	return map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "field_condition",
			"field": map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"},
			"condition": map[string]any{"type": "moment_range", "on_or_after": nil,
				"before": map[string]any{"type": "fixed_local_date", "value": tomorrow, "which": "start"}}},
	}}
}

// objectID is a path segment that names one Close object.
var objectID = regexp.MustCompile(`/(bulkdelete|save|lead|cont|stat|cf|user)_[A-Za-z0-9]+/`)

// route replaces object ids in a recorded request by {id}.
func route(req string) string { return objectID.ReplaceAllString(req, "/{id}/") }

// summarizeRequests renders a request list as "POST /api/v1/data/search/ ×1, …".
func summarizeRequests(reqs []string) string {
	if len(reqs) == 0 {
		return "none"
	}
	n := map[string]int{}
	var keys []string
	for _, r := range reqs {
		r = route(r)
		if n[r] == 0 {
			keys = append(keys, r)
		}
		n[r]++
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", k, n[k])
	}
	return strings.Join(parts, ", ")
}
