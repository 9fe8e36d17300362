package reliability_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/guards"
)

// TestPlanFlood: previews past --max-plans-per-principal are refused as
// plans_full, nothing is deleted, and the plans already made still work.
func TestPlanFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{policy: guards.Policy{MaxPlansPerPrincipal: 4}})
	_, q := e.leads(2)
	var first previewOut
	for i := range 4 {
		p := e.preview(map[string]any{"s_query": q})
		if i == 0 {
			first = p
		}
	}
	wantNothingDeleted(t, e.call(toolPreview, map[string]any{"s_query": q}), "plans_full", "--max-plans-per-principal", "expire")
	if n := e.creates(); n != 0 {
		t.Fatalf("%d creates reached the sandbox", n)
	}
	var c createOut
	structured(t, e.call(toolCreate, map[string]any{"plan_id": first.PlanID, "confirm": first.ConfirmationPhrase}), &c)
	if c.Job.ID == "" {
		t.Fatal("a plan made before the cap was reached does not execute")
	}
}

// TestStdioOversizeLine: the binary on stdio answers a line over
// --max-body-bytes with a JSON-RPC error and goes on serving.
func TestStdioOversizeLine(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(bin.Path(t), "--sandbox", "--leads", "10", "--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"))
	cmd.Env = cleanEnv(t)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	in := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n" +
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"preview_bulk_delete","arguments":{"s_query":"` + strings.Repeat("a", 3<<20) + `"}}}` + "\n" +
		`{"jsonrpc":"2.0","id":3,"method":"ping"}` + "\n"
	go func() {
		_, _ = io.WriteString(stdin, in)
		_ = stdin.Close()
	}()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bulkguard: %v\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("bulkguard did not end with its stdin\n%s", stderr.String())
	}
	answers := map[string]string{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var m struct {
			ID    json.RawMessage `json:"id"`
			Error *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line %q: %v", clip(sc.Text()), err)
		}
		switch {
		case m.Error != nil && m.Error.Code == -32600 && strings.Contains(m.Error.Message, "over the limit of 1MiB"):
			answers[string(m.ID)] = "too large"
		case m.Error == nil:
			answers[string(m.ID)] = "ok"
		default:
			answers[string(m.ID)] = m.Error.Message
		}
	}
	if answers["1"] != "ok" || answers["2"] != "too large" || answers["3"] != "ok" {
		t.Errorf("answers %v; want 1 ok, 2 too large, 3 ok\nstderr:\n%s", answers, stderr.String())
	}
}

// TestSlowBodyRefusal: over HTTP, a request refused before its body is
// read (no token) is answered at once while the body trickles in.
func TestSlowBodyRefusal(t *testing.T) {
	t.Parallel()
	_, url := startServe(t, cleanEnv(t), "--sandbox", "--leads", "10", "--http-token", "slow-body-token-0123456789",
		"--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"))
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/mcp")
	var d net.Dialer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := io.WriteString(conn, "POST /mcp HTTP/1.1\r\nHost: "+addr+"\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	// Far below the 30 s body deadline: the answer must not wait for it.
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body trickles in: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
}
