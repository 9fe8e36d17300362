package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// inspectorPkg is the MCP Inspector release these tests drive; pinned so a new
// release cannot change what "passes" (docs/mcp-notes.md §E.1).
const inspectorPkg = "@modelcontextprotocol/inspector@2.12.0"

// Inspector CLI exit codes (clients/cli EXIT_CODES in the package).
const (
	rcOK           = 0
	rcError        = 1
	rcAuthRequired = 3
	rcToolError    = 5
)

var (
	nodeOnce sync.Once
	nodeErr  error
	// inspectorBins are the package's executables ("inspector", "mcpdo")
	// in the npm cache, resolved once through npx. Running them directly
	// saves npx's package resolution on each of the many calls (about half
	// of each call's CPU time on a small machine).
	inspectorBins = map[string]string{}
)

// needNode fails the test (never skips it) when Node.js or npx is missing or
// the pinned Inspector cannot be fetched. The first call fetches the package
// into the npm cache if needed and resolves its executables.
func needNode(t *testing.T) {
	t.Helper()
	nodeOnce.Do(func() {
		for _, tool := range []string{"node", "npx"} {
			if _, err := exec.LookPath(tool); err != nil {
				nodeErr = fmt.Errorf("%s is not on PATH: the end-to-end tests drive bulkguard with the MCP Inspector CLI (%s) and need Node.js 20+ with npx; install Node.js and run the tests again", tool, inspectorPkg)
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "npx", "-y", "-p", inspectorPkg, "-c", "command -v inspector && command -v mcpdo").Output()
		lines := strings.Fields(string(out))
		if err != nil || len(lines) != 2 {
			var stderr []byte
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				stderr = ee.Stderr
			}
			nodeErr = fmt.Errorf("npx -y -p %s could not provide the inspector and mcpdo commands (is the npm registry reachable for the first download?): %v\n%s%s", inspectorPkg, err, out, stderr)
			return
		}
		inspectorBins["inspector"], inspectorBins["mcpdo"] = lines[0], lines[1]
		v, err := exec.CommandContext(ctx, lines[0], "--cli", "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(v), strings.TrimPrefix(inspectorPkg, "@modelcontextprotocol/inspector@")) {
			nodeErr = fmt.Errorf("%s --cli --version: %v: %s (want %s)", lines[0], err, v, inspectorPkg)
		}
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
}

// npxResult is one finished Inspector invocation.
type npxResult struct {
	rc             int
	stdout, stderr string
}

// inspectorEnv keeps the Inspector's catalog, OAuth state and client config in
// a per-test directory, never in the home directory.
func inspectorEnv(t *testing.T) []string {
	dir := t.TempDir()
	return cleanEnv(t,
		"MCP_STORAGE_DIR="+filepath.Join(dir, "storage"),
		"MCP_CATALOG_PATH="+filepath.Join(dir, "catalog.json"),
		"MCP_CLIENT_CONFIG_PATH="+filepath.Join(dir, "client.json"),
		"MCP_INSPECTOR_OAUTH_STATE_PATH="+filepath.Join(dir, "oauth.json"),
		"MCP_INSPECTOR_SECRET_STORE=memory",
	)
}

// runNPX runs one of the pinned package's commands ("inspector" or "mcpdo",
// see needNode) under a timeout. The command runs in its own process group
// so that a timeout also ends the stdio server it spawned.
func runNPX(t *testing.T, env []string, timeout time.Duration, bin string, args ...string) npxResult {
	t.Helper()
	needNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, inspectorBins[bin], args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("npx %s %s: no answer within %s (a client waiting for an elicitation answer hangs: mcp-notes §E.1)\nstdout: %s\nstderr: %s",
			bin, strings.Join(args, " "), timeout, stdout.String(), stderr.String())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("npx %s: %v", strings.Join(args, " "), err)
	}
	return npxResult{rc: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// inspector runs the one-shot Inspector CLI with JSON output.
func inspector(t *testing.T, env []string, args ...string) npxResult {
	t.Helper()
	return runNPX(t, env, 90*time.Second, "inspector", append([]string{"--cli", "--format", "json"}, args...)...)
}

// wrapperScript writes an executable that execs bulkguard with args and env.
// Stdio clients spawn it: the Inspector passes a stdio server only a minimal
// environment, and a lone path keeps its option parser away from
// bulkguard's flags (docs/mcp-notes.md §E.1).
func wrapperScript(t *testing.T, args, env []string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if k == "CLOSE_API_KEY" || k == "XDG_STATE_HOME" || k == "NO_COLOR" || strings.HasPrefix(k, "BULKGUARD_") {
			fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
		}
	}
	b.WriteString("exec " + shellQuote(needBinary(t)))
	for _, a := range args {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	path := filepath.Join(t.TempDir(), "bulkguard-wrapper.sh")
	if err := os.WriteFile(path, []byte(b.String()), 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// callToolResult is a CallToolResult as the Inspector prints it.
type callToolResult struct {
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent"`
	IsError           bool            `json:"isError"`
}

func (r callToolResult) toolResult() toolResult {
	var texts []string
	for _, c := range r.Content {
		if c.Type == "text" {
			texts = append(texts, c.Text)
		}
	}
	out := toolResult{IsError: r.IsError, Text: strings.Join(texts, "\n")}
	if len(r.StructuredContent) > 0 && string(r.StructuredContent) != "null" {
		out.Structured = r.StructuredContent
	}
	return out
}

// inspectorClient is the one-shot Inspector CLI: every call is a new process
// and (for stdio) a new server.
type inspectorClient struct {
	env    []string
	target []string // server command, or URL plus --transport and --header
	era    string   // legacy or modern
}

func httpTarget(s *serverProc, transport, token string) []string {
	args := []string{s.url, "--transport", transport, "--stored-auth-only"}
	if token != "" {
		args = append(args, "--header", "Authorization: Bearer "+token)
	}
	return args
}

func (c inspectorClient) call(t *testing.T, tool string, args map[string]any) toolResult {
	t.Helper()
	js, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	full := append(append([]string{"--protocol-era", c.era}, c.target...),
		"--method", "tools/call", "--tool-name", tool, "--tool-args-json", string(js))
	r := inspector(t, c.env, full...)
	if r.rc != rcOK && r.rc != rcToolError {
		t.Fatalf("inspector tools/call %s: rc=%d\nstdout: %s\nstderr: %s", tool, r.rc, r.stdout, r.stderr)
	}
	var out struct {
		Result *callToolResult `json:"result"`
	}
	if err := json.Unmarshal([]byte(lastJSONLine(r.stdout)), &out); err != nil || out.Result == nil {
		t.Fatalf("inspector tools/call %s: stdout is not {\"result\":…}: %v\n%s\nstderr: %s", tool, err, r.stdout, r.stderr)
	}
	res := out.Result.toolResult()
	// The CLI's exit code follows isError (5 = TOOL_ERROR).
	if res.IsError != (r.rc == rcToolError) {
		t.Errorf("inspector rc=%d for a result with isError=%v", r.rc, res.IsError)
	}
	return res
}

// lastJSONLine picks the JSON document from the CLI's stdout: with
// --format json it is the only output, but a stdio server's stray line would
// come first.
func lastJSONLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n{"); i >= 0 && json.Valid([]byte(s[i+1:])) {
		return s[i+1:]
	}
	return s
}

// toolNames lists the tools of a tools/list answer.
func toolNames(t *testing.T, stdout string) []string {
	t.Helper()
	var out struct {
		Result struct {
			Tools []struct {
				Name        string          `json:"name"`
				Title       string          `json:"title"`
				Annotations map[string]any  `json:"annotations"`
				InputSchema json.RawMessage `json:"inputSchema"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(lastJSONLine(stdout)), &out); err != nil {
		t.Fatalf("tools/list output: %v\n%s", err, stdout)
	}
	var names []string
	for _, tl := range out.Result.Tools {
		names = append(names, tl.Name)
		for _, h := range []string{"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"} {
			if _, ok := tl.Annotations[h].(bool); !ok {
				t.Errorf("tool %s: annotation %s missing", tl.Name, h)
			}
		}
		if tl.Title == "" {
			t.Errorf("tool %s has no title", tl.Name)
		}
	}
	return names
}

var (
	allTools      = []string{"create_bulk_delete", "get_bulk_delete", "list_backups", "list_bulk_deletes", "lookup_close_ids", "pause_bulk_delete", "preview_bulk_delete", "restore_bulk_delete", "resume_bulk_delete"}
	readOnlyTools = []string{"get_bulk_delete", "list_backups", "list_bulk_deletes", "lookup_close_ids", "preview_bulk_delete"}
)
