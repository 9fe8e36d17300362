package tools

import (
	"context"
	"log/slog"
)

// mcp-go's request logging (server.WithLogger) writes an "mcp.request" and an "mcp.tool" line
// at INFO for every call. At the default level that is two formatted lines on stderr per
// get_bulk_delete, a measurable part of a call that takes a few hundred microseconds (see
// bench/results.md). perCallHandler demotes them to DEBUG and keeps at INFO what an operator
// reads the log for: calls of the tools that change something in Close (create, pause,
// resume) and protocol errors. Refusals are logged by the tools themselves, at INFO.
type perCallHandler struct{ next slog.Handler }

// mcp-go's attribute keys and values for these lines (server/logger.go of mcp-go v1.2.1).
const (
	logKeyToolName = "mcp.tool.name"
	logKeyOutcome  = "outcome"
	logOutcomeErr  = "error"
)

func (h perCallHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h perCallHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo && !keepAtInfo(r) {
		if !h.next.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return h.next.Handle(ctx, r)
}

func (h perCallHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return perCallHandler{h.next.WithAttrs(as)}
}

func (h perCallHandler) WithGroup(name string) slog.Handler {
	return perCallHandler{h.next.WithGroup(name)}
}

// keepAtInfo reports a line of a write tool's call or of a call that failed with a protocol
// error (not an isError result, which is the tool answering).
func keepAtInfo(r slog.Record) bool {
	keep := false
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case logKeyToolName:
			switch a.Value.String() {
			case ToolCreate, ToolPause, ToolResume:
				keep = true
			}
		case logKeyOutcome:
			keep = keep || a.Value.String() == logOutcomeErr
		}
		return !keep
	})
	return keep
}
