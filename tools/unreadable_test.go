package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// TestMarkUnreadableArguments: a tools/call whose arguments hold a number
// no float64 holds is rewritten so that mcp-go can read it and decodeArgs
// names the argument; every other message passes through byte for byte.
func TestMarkUnreadableArguments(t *testing.T) {
	call := func(args string) string {
		return `{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"preview_bulk_delete","arguments":` + args + `}}`
	}
	tests := []struct {
		name, msg   string
		wantPointer string // "" = the message must pass unchanged
	}{
		{"results_limit 1e309", call(`{"s_query":{"type":"match_all"},"results_limit":1e309}`), "/results_limit"},
		{"negative overflow", call(`{"sample_size":-1e400}`), "/sample_size"},
		{"nested in s_query", call(`{"s_query":{"queries":[{"value":1},{"value":2e999}]}}`), "/s_query/queries/1/value"},
		{"in range", call(`{"results_limit":1e308}`), ""},
		{"big integer in range", call(`{"results_limit":123456789012345678901234567890}`), ""},
		{"not a tool call", `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":1e309}}`, ""},
		{"not JSON", `{"method":"tools/call",`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := MarkUnreadableArguments([]byte(tc.msg))
			if tc.wantPointer == "" {
				if string(out) != tc.msg {
					t.Fatalf("changed: %s", out)
				}
				return
			}
			// mcp-go can now read it, and the handler's decoding names the
			// argument.
			var req mcp.JSONRPCRequest
			if err := json.Unmarshal(out, &req); err != nil {
				t.Fatalf("rewritten message: %v", err)
			}
			var call mcp.CallToolRequest
			if err := json.Unmarshal(out, &call); err != nil {
				t.Fatalf("mcp-go cannot read the rewritten call: %v", err)
			}
			if got, _ := json.Marshal(req.ID); string(got) != "4" {
				t.Errorf("id %v", req.ID)
			}
			var a previewArgs
			e := decodeArgs(call, &a, "s_query", "sort")
			if e == nil || e.Pointer != tc.wantPointer || !strings.Contains(e.Problem, "out of range") {
				t.Fatalf("decodeArgs: %+v", e)
			}
			res := argErrorResult(e)
			if !res.IsError {
				t.Error("not an isError result")
			}
		})
	}
}
