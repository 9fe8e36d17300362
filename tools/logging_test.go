package tools

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// TestPerCallLogLevels: mcp-go's per-call lines reach an INFO log only for the tools that
// change something and for protocol errors; at DEBUG every line is kept.
func TestPerCallLogLevels(t *testing.T) {
	tool := func(name, outcome string) []slog.Attr {
		return []slog.Attr{slog.String(logKeyToolName, name), slog.Float64("duration_s", 0.001), slog.String(logKeyOutcome, outcome)}
	}
	request := func(outcome string) []slog.Attr {
		return []slog.Attr{slog.String("mcp.method", "tools/call"), slog.String(logKeyOutcome, outcome)}
	}
	tests := []struct {
		name    string
		msg     string
		level   slog.Level
		attrs   []slog.Attr
		atInfo  bool // written by an INFO logger
		atDebug string
	}{
		{"request ok", "mcp.request", slog.LevelInfo, request("ok"), false, "DEBUG"},
		{"request protocol error", "mcp.request", slog.LevelInfo, request("error"), true, "INFO"},
		{"get", "mcp.tool", slog.LevelInfo, tool(ToolGet, "ok"), false, "DEBUG"},
		{"get isError result", "mcp.tool", slog.LevelInfo, tool(ToolGet, "error_result"), false, "DEBUG"},
		{"preview", "mcp.tool", slog.LevelInfo, tool(ToolPreview, "ok"), false, "DEBUG"},
		{"create", "mcp.tool", slog.LevelInfo, tool(ToolCreate, "ok"), true, "INFO"},
		{"pause refused", "mcp.tool", slog.LevelInfo, tool(ToolPause, "error_result"), true, "INFO"},
		{"resume", "mcp.tool", slog.LevelInfo, tool(ToolResume, "ok"), true, "INFO"},
		{"a warning is left alone", "mcp.tool", slog.LevelWarn, tool(ToolGet, "ok"), true, "WARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, floor := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
				var buf bytes.Buffer
				l := slog.New(perCallHandler{slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: floor})}).With("component", "mcp")
				l.LogAttrs(context.Background(), tt.level, tt.msg, tt.attrs...)
				out := buf.String()
				want := tt.atInfo || floor == slog.LevelDebug
				if got := out != ""; got != want {
					t.Fatalf("logger at %s wrote %q, want a line: %v", floor, out, want)
				}
				if floor == slog.LevelDebug && !strings.Contains(out, "level="+tt.atDebug) {
					t.Errorf("logger at DEBUG wrote %q, want level %s", out, tt.atDebug)
				}
				if want && (!strings.Contains(out, "component=mcp") || !strings.Contains(out, "msg="+tt.msg)) {
					t.Errorf("logger at %s wrote %q, want the logger's attributes and the message", floor, out)
				}
			}
		})
	}
}

// TestServerPerCallLogging: NewServer routes mcp-go's request logging through perCallHandler.
func TestServerPerCallLogging(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	var buf bytes.Buffer
	d := f.deps
	d.Logger = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	c := inProcess(t, NewServer(d), eras[0], nil)
	call(t, c, ToolGet, map[string]any{"id": "bulkdelete_doesnotexist0"})
	call(t, c, ToolList, map[string]any{})
	if strings.Contains(buf.String(), "mcp.") {
		t.Errorf("read-only calls logged at INFO:\n%s", buf.String())
	}
	call(t, c, ToolPause, map[string]any{"id": "bulkdelete_doesnotexist0"})
	if out := buf.String(); !strings.Contains(out, "msg=mcp.tool") || !strings.Contains(out, logKeyToolName+"="+ToolPause) {
		t.Errorf("the pause call was not logged at INFO:\n%s", out)
	}
}
