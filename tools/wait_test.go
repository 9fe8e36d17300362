package tools

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
)

// progressLog keeps the notifications/progress a client received.
type progressLog struct {
	mu  sync.Mutex
	got []map[string]any
}

func (p *progressLog) watch(c *client.Client) {
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/progress" {
			return
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.got = append(p.got, n.Params.AdditionalFields)
	})
}

func (p *progressLog) all() []map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]map[string]any(nil), p.got...)
}

// startJob previews and creates (phrase confirmation) a delete of n leads
// on a sandbox that deletes slowly, and returns the job id.
func startJob(t *testing.T, f *fixture, c *client.Client, n int) string {
	t.Helper()
	_, q := f.pickLeads(n)
	p := preview(t, c, map[string]any{"s_query": q})
	var cr createResult
	structured(t, call(t, c, ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}), &cr)
	return cr.Job.ID
}

// callWithToken calls get_bulk_delete with a progress token (nil: none).
func callWithToken(t *testing.T, c *client.Client, args map[string]any, token mcp.ProgressToken) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: ToolGet, Arguments: args}}
	if token != nil {
		req.Params.Meta = &mcp.Meta{ProgressToken: token}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("get_bulk_delete: %v", err)
	}
	checkResult(t, ToolGet, res)
	return res
}

// TestGetWaitsWithProgress: with wait_seconds, get_bulk_delete returns once
// the job is finished, sends increasing progress for the client's token
// while it waits, and nothing after the result. Not parallel: the stdio
// connector shares mcp-go's one stdio session.
func TestGetWaitsWithProgress(t *testing.T) {
	for _, conn := range connectors {
		for _, e := range eras {
			t.Run(conn.name+"/"+e.name, func(t *testing.T) {
				// 15 leads at 10 a second: running for about 1.5 s, so the
				// first read sees it unfinished.
				f := newFixture(t, fixtureOpts{confirm: guards.ConfirmPhrase, deleteRate: 10})
				c := conn.connect(t, f.srv, e, nil)
				var log progressLog
				log.watch(c)
				id := startJob(t, f, c, 15)

				var j jobResult
				structured(t, callWithToken(t, c, map[string]any{"id": id, "wait_seconds": 60}, "tok-1"), &j)
				if !j.Progress.Terminal || j.Job.StatusString() != guards.JobDone || j.Progress.Processed != 15 {
					t.Fatalf("after waiting the job is %s, %+v; want done with 15 processed", j.Job.StatusString(), j.Progress)
				}
				atResult := len(log.all())
				// Anything still queued would arrive well within this.
				time.Sleep(2 * waitPoll)
				got := log.all()
				if len(got) != atResult {
					t.Fatalf("%d progress notifications arrived after the result: %v", len(got)-atResult, got[atResult:])
				}
				if len(got) == 0 {
					t.Fatal("no progress notification while waiting for a running job")
				}
				last := -1.0
				for _, n := range got {
					if n["progressToken"] != "tok-1" {
						t.Fatalf("notification for token %v, want tok-1: %v", n["progressToken"], n)
					}
					p, ok := number(n["progress"])
					if !ok || p <= last {
						t.Fatalf("progress %v after %v: must be a number that increases (%v)", n["progress"], last, got)
					}
					last = p
					if total, ok := number(n["total"]); !ok || total != 15 {
						t.Fatalf("total = %v, want 15", total)
					}
					if msg, _ := n["message"].(string); msg == "" {
						t.Fatalf("notification without a message: %v", n)
					}
				}
			})
		}
	}
}

// number reads a notification's number: float64 after a JSON round trip,
// an int in process.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	}
	return 0, false
}

// TestGetWaitWithoutToken: a client that gave no progress token gets the
// same wait and no notification.
func TestGetWaitWithoutToken(t *testing.T) {
	f := newFixture(t, fixtureOpts{confirm: guards.ConfirmPhrase, deleteRate: 10})
	c := inProcess(t, f.srv, eras[0], nil)
	var log progressLog
	log.watch(c)
	id := startJob(t, f, c, 12)
	var j jobResult
	structured(t, callWithToken(t, c, map[string]any{"id": id, "wait_seconds": 60}, nil), &j)
	if !j.Progress.Terminal {
		t.Fatalf("job not finished after waiting: %+v", j.Progress)
	}
	time.Sleep(waitPoll)
	if got := log.all(); len(got) != 0 {
		t.Fatalf("%d progress notifications without a progress token: %v", len(got), got)
	}
}

// TestGetWaitBounds: wait_seconds outside 0–60 is refused naming the
// field; 0 answers at once, as a get without it does.
func TestGetWaitBounds(t *testing.T) {
	f := newFixture(t, fixtureOpts{confirm: guards.ConfirmPhrase, deleteRate: 1})
	c := inProcess(t, f.srv, eras[0], nil)
	id := startJob(t, f, c, 5)
	for _, w := range []any{-1, 61, 3600, "10", 1.5} {
		t.Run(fmt.Sprint(w), func(t *testing.T) {
			wantError(t, call(t, c, ToolGet, map[string]any{"id": id, "wait_seconds": w}), "/wait_seconds", "Nothing was deleted")
		})
	}
	var j jobResult
	structured(t, call(t, c, ToolGet, map[string]any{"id": id, "wait_seconds": 0}), &j)
	if j.Progress.Terminal {
		t.Fatalf("a job deleting one lead a second finished at once: %+v", j.Progress)
	}
}
