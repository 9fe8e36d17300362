package tools

import (
	"context"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// maxWaitSeconds bounds get_bulk_delete's wait_seconds: long enough to
// watch a typical job finish in one call, short enough to stay under the
// request timeouts clients put on a tool call (Claude Desktop cancels after
// about 60 s, docs/mcp-notes.md §D.1).
const maxWaitSeconds = 60

// waitPoll is how often a waiting get reads the job again: one request a
// second stays far below Close's rate limits (docs/close-api.md §4.4) while a
// progress bar still moves smoothly.
const waitPoll = time.Second

// getArgs are get_bulk_delete's arguments.
type getArgs struct {
	ID          string `json:"id" jsonschema:"required"`
	WaitSeconds *int   `json:"wait_seconds,omitempty" jsonschema:"minimum=0,maximum=60"`
}

func (t *toolset) get(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a getArgs
	if e := jobArgs(req, &a, &a.ID); e != nil {
		return argErrorResult(e)
	}
	wait := 0
	if a.WaitSeconds != nil {
		if *a.WaitSeconds < 0 || *a.WaitSeconds > maxWaitSeconds {
			return argErrorResult(&argError{Pointer: "/wait_seconds", Problem: fmt.Sprintf("must be between 0 and %d, got %d", maxWaitSeconds, *a.WaitSeconds),
				Next: fmt.Sprintf("Pass 0 to %d, then call get_bulk_delete again if the job is still running.", maxWaitSeconds)})
		}
		wait = *a.WaitSeconds
	}
	j, err := t.waitJob(ctx, req, cl, a.ID, time.Duration(wait)*time.Second)
	if err != nil {
		return failure(err, effectNone, "bulk-delete job "+a.ID)
	}
	return t.jobResult(j, "Bulk delete")
}

// waitJob reads the job, and with a wait keeps reading it once a second
// until it is finished or paused or the wait is over. While it waits it
// sends notifications/progress when the client asked for them with a
// progress token. Every notification is sent before the poll that follows
// it, a full waitPoll before the result: a client must never receive one
// after the result (Claude Code drops a stdio connection on a progress
// token it no longer knows: claude-code issues 47765 and 64475).
func (t *toolset) waitJob(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client, id string, wait time.Duration) (*closeapi.BulkDelete, error) {
	deadline := time.Now().Add(wait)
	var token mcp.ProgressToken
	if m := req.Params.Meta; m != nil {
		token = m.ProgressToken
	}
	srv := server.ServerFromContext(ctx)
	sent := -1 // the progress last notified; progress must increase
	for {
		j, err := cl.GetBulkDelete(ctx, id)
		if err != nil {
			return nil, err
		}
		status := j.StatusString()
		left := time.Until(deadline)
		if guards.JobFinished(status) || status == guards.JobPaused || left < waitPoll {
			return j, nil
		}
		if p := progressOf(j); token != nil && srv != nil && p.Processed > sent {
			params := map[string]any{"progressToken": token, "progress": p.Processed, "message": jobLine(j)}
			if p.Total != nil {
				params["total"] = *p.Total
			}
			// A notification that cannot be queued is only a missed update.
			if srv.SendNotificationToClient(ctx, "notifications/progress", params) == nil {
				sent = p.Processed
			}
		}
		timer := time.NewTimer(waitPoll)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil, ctx.Err()
		case <-timer.C:
		}
	}
}
