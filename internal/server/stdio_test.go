package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/sandbox"
)

// TestStdioMessageLimit: a stdio message over MaxBodyBytes gets a JSON-RPC
// error carrying its id (null when the id is not in its first bytes), and
// the session goes on: the messages before and after it are answered.
func TestStdioMessageLimit(t *testing.T) {
	s, cleanup, err := New(Config{AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), SandboxOptions: sandbox.Options{EmptyOrg: true},
		MaxBodyBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	pad := strings.Repeat("x", 200<<10)
	in := strings.Join([]string{
		initBody,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"preview_bulk_delete","arguments":{"s_query":"` + pad + `"}}}`,
		`{"jsonrpc":"2.0","method":"tools/call","params":{"name":"x","arguments":{"id":"inner","q":"` + pad + `"}},"id":"late"}`,
		`{"jsonrpc":"2.0","id":"three","method":"ping"}`,
	}, "\n") + "\n"
	var out bytes.Buffer
	if err := s.ServeStdio(context.Background(), strings.NewReader(in), &out); err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
	type answer struct {
		ID     json.RawMessage `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	got := map[string]answer{}
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var a answer
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("stdout line %q: %v", sc.Text(), err)
		}
		got[string(a.ID)] = a
	}
	if len(got) != 4 {
		t.Errorf("%d answers, want 4: %s", len(got), out.String())
	}
	if a := got["1"]; a.Result == nil {
		t.Errorf("initialize: %+v", a)
	}
	if a := got[`"three"`]; a.Result == nil {
		t.Errorf("ping after the over-long lines: %+v", a)
	}
	for _, id := range []string{"2", "null"} {
		a := got[id]
		if a.Error == nil || a.Error.Code != -32600 || !strings.Contains(a.Error.Message, "over the limit of 4KiB") ||
			!strings.Contains(a.Error.Message, "nothing was done") {
			t.Errorf("over-long message %s: %+v", id, a)
		}
	}
}

// TestRequestID: the id of a message is found at its top level only.
func TestRequestID(t *testing.T) {
	tests := []struct{ prefix, want string }{
		{`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"a":"xxxx`, `7`},
		{`{"id":"abc","params":`, `"abc"`},
		{`{"params":{"id":5},"id":6}`, `6`},
		{`{"params":{"id":5,"q":"xxxxxxx`, `null`},
		{`{"id":{"nested":1}}`, `null`},
		{`[1,2]`, `null`},
		{`garbage`, `null`},
	}
	for _, tc := range tests {
		if got := string(requestID([]byte(tc.prefix))); got != tc.want {
			t.Errorf("requestID(%s) = %s, want %s", tc.prefix, got, tc.want)
		}
	}
}

// outOfRangeCall is a preview whose results_limit no float64 holds: mcp-go
// alone answers it with a JSON-RPC error before any handler runs.
const outOfRangeCall = `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"preview_bulk_delete","arguments":{"s_query":{"type":"object_type","object_type":"lead"},"results_limit":1e309}}}`

// wantOutOfRangeResult checks the answer to outOfRangeCall: a tool result
// with isError naming /results_limit, not a JSON-RPC error.
func wantOutOfRangeResult(t *testing.T, answer []byte) {
	t.Helper()
	var a struct {
		Error  json.RawMessage `json:"error"`
		Result struct {
			IsError bool `json:"isError"`
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		t.Fatalf("answer %s: %v", answer, err)
	}
	if a.Error != nil || !a.Result.IsError || len(a.Result.Content) == 0 ||
		!strings.Contains(a.Result.Content[0].Text, "/results_limit") || !strings.Contains(a.Result.Content[0].Text, "out of range") {
		t.Errorf("answer %s: want an isError result naming /results_limit", answer)
	}
}

// TestOutOfRangeArgumentStdio: results_limit 1e309 on stdio.
func TestOutOfRangeArgumentStdio(t *testing.T) {
	s, cleanup, err := New(Config{AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), SandboxOptions: sandbox.Options{EmptyOrg: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var out bytes.Buffer
	if err := s.ServeStdio(context.Background(), strings.NewReader(initBody+"\n"+outOfRangeCall+"\n"), &out); err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(out.String()), "\n") {
		if strings.Contains(line, `"id":9`) {
			wantOutOfRangeResult(t, []byte(line))
			return
		}
	}
	t.Fatalf("no answer to the call: %s", out.String())
}
