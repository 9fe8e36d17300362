package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
)

// bin is the bulkguard binary built once by TestMain; every test runs it
// as a subprocess, as a client (Claude Desktop, Cursor, …) would.
var bin = testkit.Binary{Root: "."}

func TestMain(m *testing.M) {
	testkit.TempDirMain(m, "bulkguard-test-", "", &bin, func() error {
		if _, err := bin.Build(); err != nil {
			return fmt.Errorf("building bulkguard: %w", err)
		}
		return nil
	})
}

// testTimeout bounds each subprocess interaction so a hang fails the test
// instead of the whole run; it is a safety net, never an assertion.
const testTimeout = 60 * time.Second

// command prepares the binary with a clean environment: no CLOSE_API_KEY and
// no BULKGUARD_* from the developer's shell, and the audit log in a temp dir.
func command(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin.Path(t), args...)
	cmd.Env = append(testkit.Environ("XDG_STATE_HOME="+t.TempDir()), env...)
	return cmd
}

// runToEnd runs the binary to completion and returns stdout, stderr and the exit code.
func runToEnd(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := command(t, env, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("bulkguard %v: %v", args, err)
		}
		return stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()
	case <-time.After(testTimeout):
		_ = cmd.Process.Kill()
		t.Fatalf("bulkguard %v did not exit", args)
		return "", "", -1
	}
}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	allTools      = []string{"create_bulk_delete", "get_bulk_delete", "list_backups", "list_bulk_deletes", "lookup_close_ids", "pause_bulk_delete", "preview_bulk_delete", "restore_bulk_delete", "resume_bulk_delete"}
	readOnlyTools = []string{"get_bulk_delete", "list_backups", "list_bulk_deletes", "lookup_close_ids", "preview_bulk_delete"}
)

func toolNames(res *mcp.ListToolsResult) []string {
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	return names
}

// TestStdio runs the binary over real pipes in both protocol eras and checks
// that stdout carries nothing but JSON-RPC messages.
func TestStdio(t *testing.T) {
	tests := []struct {
		name  string
		era   string
		args  []string
		tools []string
	}{
		{"legacy era", mcp.ProtocolVersion20251125, nil, allTools},
		{"modern era", mcp.ProtocolVersion20260728, nil, allTools},
		{"legacy era read-only", mcp.ProtocolVersion20251125, []string{"--read-only"}, readOnlyTools},
		{"modern era read-only, explicit serve and --sandbox", mcp.ProtocolVersion20260728, []string{"serve", "--sandbox", "--read-only"}, readOnlyTools},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append(slices.Clone(tc.args), "--leads", "50")
			cmd := command(t, nil, args...)
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdoutPipe, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr syncBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			c := initClient(t, transport.NewIO(io.TeeReader(stdoutPipe, &stdout), stdin, nil), tc.era, nil)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			res, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatalf("tools/list: %v", err)
			}
			if got := toolNames(res); !slices.Equal(got, tc.tools) {
				t.Errorf("tools = %v, want %v", got, tc.tools)
			}
			// Closing stdin ends the session; the server must exit cleanly.
			_ = c.Close()
			waitExit(t, cmd, 0)

			lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
			if len(lines) < 2 {
				t.Fatalf("stdout has %d lines, want the responses", len(lines))
			}
			for i, line := range lines {
				var msg struct {
					JSONRPC string `json:"jsonrpc"`
				}
				if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.JSONRPC != "2.0" {
					t.Errorf("stdout line %d is not JSON-RPC: %q", i+1, line)
				}
			}
			if !strings.Contains(stderr.String(), "SANDBOX") {
				t.Errorf("stderr does not announce the sandbox:\n%s", stderr.String())
			}
		})
	}
}

// waitExit waits for cmd and checks its exit code.
func waitExit(t *testing.T, cmd *exec.Cmd, want int) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		_ = err // the exit code below is what the test checks, not Wait's error
	case <-time.After(testTimeout):
		_ = cmd.Process.Kill()
		t.Fatal("bulkguard did not exit")
	}
	if got := cmd.ProcessState.ExitCode(); got != want {
		t.Errorf("exit code %d, want %d", got, want)
	}
}

// TestStdioSignal checks a SIGTERM ends a stdio session cleanly even while
// stdin stays open.
func TestStdioSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := command(t, nil, "--leads", "10")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			stderr := newLineWatcher()
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			stderr.waitFor(t, func(line string) bool { return strings.Contains(line, "bulkguard starting") })
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			waitExit(t, cmd, 0)
		})
	}
}

// lineWatcher collects a subprocess's stderr line by line so a test can wait
// for a given line (the listening address, the generated token).
type lineWatcher struct {
	mu    sync.Mutex
	lines []string
	part  []byte
	cond  *sync.Cond
}

func newLineWatcher() *lineWatcher {
	w := &lineWatcher{}
	w.cond = sync.NewCond(&w.mu)
	return w
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, string(w.part[:i]))
		w.part = w.part[i+1:]
	}
	w.cond.Broadcast()
	return len(p), nil
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n") + "\n" + string(w.part)
}

// waitFor returns the first line match accepts, failing after testTimeout.
func (w *lineWatcher) waitFor(t *testing.T, match func(string) bool) string {
	t.Helper()
	timer := time.AfterFunc(testTimeout, func() {
		w.mu.Lock()
		w.cond.Broadcast()
		w.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(testTimeout)
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := 0; ; {
		for ; i < len(w.lines); i++ {
			if match(w.lines[i]) {
				return w.lines[i]
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching line on stderr; got:\n%s", strings.Join(w.lines, "\n"))
		}
		w.cond.Wait()
	}
}

// flagEnv returns the environment variable --help names for f.
func flagEnv(c *cliFlags, f *flag.Flag) string {
	return c.env[f.Name]
}

// TestHelp checks --help documents every flag with its variable and default.
func TestHelp(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		flags *cliFlags
	}{
		{"serve", []string{"--help"}, newServeFlags(&serveConfig{})},
		{"serve -h", []string{"serve", "-h"}, newServeFlags(&serveConfig{})},
		{"sandbox", []string{"sandbox", "--help"}, newSandboxFlags(&sandboxConfig{})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runToEnd(t, nil, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			n := 0
			tc.flags.fs.VisitAll(func(f *flag.Flag) {
				n++
				if !regexp.MustCompile(`(?m)^  --` + regexp.QuoteMeta(f.Name) + `\b`).MatchString(stdout) {
					t.Errorf("--help does not list --%s", f.Name)
				}
				if env := flagEnv(tc.flags, f); env != "" && !strings.Contains(stdout, env) {
					t.Errorf("--help does not name %s for --%s", env, f.Name)
				} else if env == "" && f.Name != "version" {
					t.Errorf("--%s has no environment variable", f.Name)
				}
			})
			if n == 0 {
				t.Fatal("no flags registered")
			}
			if got := strings.Count(stdout, "(default ") + strings.Count(stdout, ", default "); got < n {
				t.Errorf("--help shows %d defaults for %d flags", got, n)
			}
		})
	}
}

// TestHelpShowsBuiltInDefaults: a variable set in the environment does not
// change the default --help prints (it says the variable is set instead),
// and its value, which may be a credential, is never printed.
func TestHelpShowsBuiltInDefaults(t *testing.T) {
	const token = "help-must-not-print-this-token"
	env := []string{"BULKGUARD_SANDBOX_LEADS=5", "BULKGUARD_MAX_OBJECTS=7", "BULKGUARD_HTTP_TOKEN=" + token}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"serve", []string{"--help"}, []string{
			"(env BULKGUARD_SANDBOX_LEADS, default 2000; BULKGUARD_SANDBOX_LEADS is set)",
			"(env BULKGUARD_MAX_OBJECTS, default 1000; BULKGUARD_MAX_OBJECTS is set)",
			"(env BULKGUARD_SANDBOX_RATE_LIMIT, default 20)",
		}},
		{"sandbox", []string{"sandbox", "--help"}, []string{
			"(env BULKGUARD_SANDBOX_LEADS, default 2000; BULKGUARD_SANDBOX_LEADS is set)",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runToEnd(t, env, tc.args...)
			if code != 0 {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("--help lacks %q:\n%s", w, stdout)
				}
			}
			for _, bad := range []string{"default 5)", "default 7)", token} {
				if strings.Contains(stdout, bad) {
					t.Errorf("--help shows %q, a value from the environment", bad)
				}
			}
		})
	}
}

// TestUsageErrors checks invalid values, from flags or the environment, exit
// with status 2 and a message naming the problem.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown transport", nil, []string{"--transport", "carrier-pigeon"}, "--transport"},
		{"unknown transport from env", []string{"BULKGUARD_TRANSPORT=ws"}, nil, "--transport"},
		{"bad listen", nil, []string{"--transport", "http", "--listen", "localhost"}, "--listen"},
		{"short token", nil, []string{"--transport", "http", "--http-token", "short"}, "--http-token"},
		{"zero max objects", nil, []string{"--max-objects", "0"}, "--max-objects"},
		{"zero verify-ids-up-to", nil, []string{"--verify-ids-up-to", "0"}, "--verify-ids-up-to"},
		{"verify-ids-up-to beyond one cursor walk", nil, []string{"--verify-ids-up-to", "10001"}, "10000"},
		{"max share above 1", nil, []string{"--max-share", "1.5"}, "--max-share"},
		{"max share zero in env", []string{"BULKGUARD_MAX_SHARE=0"}, nil, "--max-share"},
		{"max objects not a number in env", []string{"BULKGUARD_MAX_OBJECTS=lots"}, nil, "BULKGUARD_MAX_OBJECTS"},
		{"unknown object type", nil, []string{"--allowed-object-types", "lead,opportunity"}, "opportunity"},
		{"empty object types", nil, []string{"--allowed-object-types", ","}, "--allowed-object-types"},
		{"unknown confirm mode", nil, []string{"--confirm", "maybe"}, "--confirm"},
		{"bad plan ttl", nil, []string{"--plan-ttl", "soon"}, "plan-ttl"},
		{"negative plan ttl", nil, []string{"--plan-ttl", "-1m"}, "--plan-ttl"},
		{"bad log level", nil, []string{"--log-level", "loud"}, "--log-level"},
		{"bad log format", nil, []string{"--log-format", "xml"}, "--log-format"},
		{"body limit too small", nil, []string{"--max-body-bytes", "10"}, "max-body-bytes"},
		{"body limit not a size", nil, []string{"--max-body-bytes", "big"}, "max-body-bytes"},
		{"zero plans per principal", nil, []string{"--max-plans-per-principal", "0"}, "--max-plans-per-principal"},
		{"plan bytes not a size", []string{"BULKGUARD_MAX_PLAN_BYTES=lots"}, nil, "BULKGUARD_MAX_PLAN_BYTES"},
		{"zero http sessions", nil, []string{"--max-http-sessions", "0"}, "--max-http-sessions"},
		{"http session ttl too short", nil, []string{"--http-session-ttl", "10ms"}, "--http-session-ttl"},
		{"bad close url", nil, []string{"--close-url", "ftp://example.com"}, "--close-url"},
		{"bad tz offset", nil, []string{"--tz-offset", "CET"}, "--tz-offset"},
		{"bool env not a bool", []string{"BULKGUARD_READ_ONLY=perhaps"}, nil, "BULKGUARD_READ_ONLY"},
		{"unknown flag", nil, []string{"--nope"}, "-nope"},
		{"stray argument", nil, []string{"serve", "extra"}, "extra"},
		{"unknown command", nil, []string{"frobnicate"}, "frobnicate"},
		{"sandbox bad listen", nil, []string{"sandbox", "--listen", "nowhere"}, "--listen"},
		{"sandbox bad log format", nil, []string{"sandbox", "--log-format", "xml"}, "--log-format"},
		// A value from a variable is refused naming the variable, and a bad
		// sandbox variable is refused even when Close serves (the sandbox
		// flags are parsed like every other flag).
		{"transport from env names the variable", []string{"BULKGUARD_TRANSPORT=ws"}, nil, "BULKGUARD_TRANSPORT"},
		{"log level from env names the variable", []string{"BULKGUARD_LOG_LEVEL=loud"}, nil, "BULKGUARD_LOG_LEVEL"},
		{"sandbox env not a number", []string{"BULKGUARD_SANDBOX_LEADS=abc"}, nil, "BULKGUARD_SANDBOX_LEADS"},
		{"sandbox env not a number in Close mode", []string{"CLOSE_API_KEY=api_not_used", "BULKGUARD_SANDBOX_LEADS=abc"}, nil, "BULKGUARD_SANDBOX_LEADS"},
		{"sandbox env not a bool in Close mode", []string{"CLOSE_API_KEY=api_not_used", "BULKGUARD_SANDBOX_EMPTY=perhaps"}, nil, "BULKGUARD_SANDBOX_EMPTY"},
		{"sandbox command env not a duration", []string{"BULKGUARD_SANDBOX_LATENCY=soon"}, []string{"sandbox"}, "BULKGUARD_SANDBOX_LATENCY"},
		{"sandbox command listen from env", []string{"BULKGUARD_SANDBOX_LISTEN=nowhere"}, []string{"sandbox"}, "BULKGUARD_SANDBOX_LISTEN"},
		{"sandbox leads out of range", nil, []string{"--leads", "-1"}, "leads"},
		{"sandbox env out of range in Close mode", []string{"CLOSE_API_KEY=api_not_used", "BULKGUARD_SANDBOX_LEADS=-1"}, nil, "--leads -1: want 0 to 1000000 (the value comes from BULKGUARD_SANDBOX_LEADS)"},
		{"sandbox env share out of range", []string{"BULKGUARD_SANDBOX_FAIL_RATE=2"}, nil, "BULKGUARD_SANDBOX_FAIL_RATE"},
		{"sandbox command env out of range", []string{"BULKGUARD_SANDBOX_BATCH_SIZE=-5"}, []string{"sandbox"}, "BULKGUARD_SANDBOX_BATCH_SIZE"},
		{"unknown store", nil, []string{"--store", "mysql://db"}, "--store"},
		{"shared store without a seal key", []string{"BULKGUARD_STORE=redis://127.0.0.1:6379/0"}, nil, "BULKGUARD_SEAL_KEY"},
		{"seal key that is not one", []string{"BULKGUARD_SEAL_KEY=hunter2"}, nil, "BULKGUARD_SEAL_KEY"},
		{"bad replica id", nil, []string{"--replica-id", "../up"}, "--replica-id"},
		{"unknown auth", nil, []string{"--transport", "http", "--auth", "basic"}, "--auth"},
		{"oauth over stdio", nil, []string{"--auth", "oauth"}, "--transport http"},
		{"oauth without an issuer", nil, []string{"--transport", "http", "--auth", "oauth", "--oauth-resource", "https://bg.example/mcp"}, "--oauth-issuer"},
		{"oauth without a resource", nil, []string{"--transport", "http", "--auth", "oauth", "--oauth-issuer", "https://auth.example"}, "--oauth-resource"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runToEnd(t, tc.env, tc.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
		})
	}
}

// TestVersion checks both spellings print the version on stdout.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			stdout, stderr, code := runToEnd(t, nil, args...)
			if code != 0 || !strings.HasPrefix(stdout, "bulkguard ") {
				t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
			}
		})
	}
}

// TestSandboxCommand runs `bulkguard sandbox`, reads the base URL and key it
// prints, and checks the API answers Basic auth with that key only.
func TestSandboxCommand(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     []string
		wantKey string
	}{
		{"demo key", nil, nil, "sandbox-demo-key"},
		{"--api-key", []string{"--api-key", "my-rehearsal-key"}, nil, "my-rehearsal-key"},
		{"listen from env", nil, []string{"BULKGUARD_SANDBOX_LISTEN=127.0.0.1:0"}, "sandbox-demo-key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"sandbox", "--leads", "20"}
			if tc.env == nil {
				args = append(args, "--listen", "127.0.0.1:0")
			}
			cmd := command(t, tc.env, append(args, tc.args...)...)
			stderr := newLineWatcher()
			var stdout syncBuffer
			cmd.Stderr, cmd.Stdout = stderr, &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })

			base := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.waitFor(t, func(l string) bool {
				return strings.Contains(l, "base URL:")
			})), "base URL:"))
			key := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(stderr.waitFor(t, func(l string) bool {
				return strings.Contains(l, "API key:")
			})), "API key:"))
			if key != tc.wantKey {
				t.Errorf("printed key %q, want %q", key, tc.wantKey)
			}
			if !strings.HasPrefix(base, "http://127.0.0.1:") || !strings.HasSuffix(base, "/api/v1") {
				t.Fatalf("base URL %q", base)
			}
			for _, auth := range []struct {
				user string
				want int
			}{{key, http.StatusOK}, {"wrong-key", http.StatusUnauthorized}, {"", http.StatusUnauthorized}} {
				req, _ := http.NewRequest(http.MethodGet, base+"/me/", nil)
				if auth.user != "" {
					req.SetBasicAuth(auth.user, "")
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != auth.want {
					t.Errorf("GET /me/ as %q: %d, want %d (%s)", auth.user, resp.StatusCode, auth.want, body)
				}
				if auth.want == http.StatusOK && !json.Valid(body) {
					t.Errorf("GET /me/ body is not JSON: %s", body)
				}
			}
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
			waitExit(t, cmd, 0)
			if stdout.String() != "" {
				t.Errorf("sandbox wrote to stdout: %q", stdout.String())
			}
		})
	}
}

// TestREADMEListsEveryFlag keeps README.md in step with the FlagSets: every
// flag and its environment variable must appear in the README's tables.
func TestREADMEListsEveryFlag(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, c := range []*cliFlags{newServeFlags(&serveConfig{}), newSandboxFlags(&sandboxConfig{})} {
		c.fs.VisitAll(func(f *flag.Flag) {
			if !strings.Contains(text, "`--"+f.Name+"`") {
				t.Errorf("README.md does not list `--%s`", f.Name)
			}
			if env := flagEnv(c, f); env != "" && !strings.Contains(text, "`"+env+"`") {
				t.Errorf("README.md does not name `%s` (--%s)", env, f.Name)
			}
		})
	}
}

// TestEnvFallback checks the precedence flag > environment > default, in process.
func TestEnvFallback(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want func(*serveConfig) bool
	}{
		{"default", nil, nil, func(c *serveConfig) bool {
			return c.MaxObjects == defaultMaxObjects && c.Transport == "stdio" && !c.ReadOnly && c.PlanTTL == defaultPlanTTL
		}},
		{"env", map[string]string{"BULKGUARD_MAX_OBJECTS": "25", "BULKGUARD_READ_ONLY": "true", "BULKGUARD_PLAN_TTL": "2m"}, nil, func(c *serveConfig) bool {
			return c.MaxObjects == 25 && c.ReadOnly && c.PlanTTL == 2*time.Minute
		}},
		{"flag beats env", map[string]string{"BULKGUARD_MAX_OBJECTS": "25"}, []string{"--max-objects", "7"}, func(c *serveConfig) bool {
			return c.MaxObjects == 7
		}},
		{"identity and share settings", map[string]string{"BULKGUARD_VERIFY_IDS_UP_TO": "250", "BULKGUARD_MAX_SHARE": "0.2"}, nil, func(c *serveConfig) bool {
			return c.VerifyIDsUpTo == 250 && c.MaxShare == 0.2
		}},
		{"identity and share defaults", nil, nil, func(c *serveConfig) bool {
			return c.VerifyIDsUpTo == guards.DefaultVerifyIDsUpTo && c.MaxShare == guards.DefaultMaxShare
		}},
		{"empty env is unset", map[string]string{"BULKGUARD_TRANSPORT": ""}, nil, func(c *serveConfig) bool {
			return c.Transport == "stdio"
		}},
		{"object types normalised", nil, []string{"--allowed-object-types", " Lead , lead,contact "}, func(c *serveConfig) bool {
			return slices.Equal(c.objectTypes, []string{"lead", "contact"})
		}},
		{"close key trimmed", map[string]string{envCloseAPIKey: " api_k3y \n"}, nil, func(c *serveConfig) bool {
			return c.closeAPIKey == "api_k3y"
		}},
		{"shared store: seal key read, one default audit file per replica", map[string]string{
			"BULKGUARD_STORE": "redis://redis:6379/0", "BULKGUARD_SEAL_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
		}, nil, func(c *serveConfig) bool {
			return string(c.sealKey) == "0123456789abcdef0123456789abcdef" && strings.HasSuffix(c.auditLog(), "audit-{replica}.jsonl")
		}},
		{"memory store keeps the audit path", nil, []string{"--audit-log", "/tmp/a.jsonl"}, func(c *serveConfig) bool {
			return c.Store == "memory" && c.auditLog() == "/tmp/a.jsonl" && c.Auth == "bearer"
		}},
		{"sandbox defaults are the realistic ones", nil, nil, func(c *serveConfig) bool {
			o := c.SandboxOpts
			return o.Seed == 1 && o.Leads == 2000 && o.APIKey == sandbox.DemoAPIKey && o.DeleteRate == 200 &&
				o.BatchSize == 50 && o.RateLimit == 20 && o.FailureRate == 0 && o.IndexLag == 0 && !o.EmptyOrg
		}},
		{"sandbox flags and env", map[string]string{
			"BULKGUARD_SANDBOX_LEADS": "123", "BULKGUARD_SANDBOX_INDEX_LAG": "45s", "BULKGUARD_SANDBOX_FAIL_RATE": "0.25",
			"BULKGUARD_SANDBOX_EMPTY": "true", "BULKGUARD_SANDBOX_SEED": "4", "BULKGUARD_SANDBOX_API_KEY": " from-env ",
		}, []string{"--seed", "9", "--rate-limit", "0", "--api-key", "k"}, func(c *serveConfig) bool {
			o := c.SandboxOpts
			return o.Seed == 9 && o.Leads == 123 && o.APIKey == "k" && o.DeleteRate == 200 && o.BatchSize == 50 &&
				o.RateLimit == 0 && o.FailureRate == 0.25 && o.IndexLag == 45*time.Second && o.EmptyOrg
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			cfg, help, err := parseServe(tc.args, lookup, io.Discard)
			if err != nil || help {
				t.Fatalf("parseServe: help=%v err=%v", help, err)
			}
			if !tc.want(cfg) {
				t.Errorf("unexpected config: %+v", *cfg)
			}
		})
	}
}

// scanJSONLines returns the stderr lines that are JSON log records.
func scanJSONLines(s string) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestExampleConfigsUseRealFlags parses the args of every bulkguard server
// in examples/clients/ and in README.md's JSON snippets, so a renamed flag
// cannot leave a client configuration that fails at startup.
func TestExampleConfigsUseRealFlags(t *testing.T) {
	type source struct{ name, text string }
	var sources []source
	err := filepath.WalkDir("examples/clients", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		b, err := os.ReadFile(path)
		sources = append(sources, source{path, string(b)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for i, block := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		sources = append(sources, source{fmt.Sprintf("README.md json block %d", i+1), block[1]})
	}
	servers := 0
	for _, src := range sources {
		var doc any
		if err := json.Unmarshal([]byte(src.text), &doc); err != nil {
			t.Errorf("%s: not JSON: %v", src.name, err)
			continue
		}
		walkServers(doc, func(name string, args []string) {
			servers++
			if _, _, err := parseServe(args, func(string) (string, bool) { return "", false }, io.Discard); err != nil {
				t.Errorf("%s: server %q: args %q: %v", src.name, name, args, err)
			}
		})
	}
	if servers == 0 {
		t.Fatal("no bulkguard server entries found")
	}
}

// walkServers calls fn for every object with a "command" naming the
// bulkguard binary, with its "args".
func walkServers(v any, fn func(name string, args []string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if m, ok := e.(map[string]any); ok {
				if cmd, ok := m["command"].(string); ok && filepath.Base(cmd) == "bulkguard" {
					var args []string
					list, _ := m["args"].([]any)
					for _, a := range list {
						s, _ := a.(string)
						args = append(args, s)
					}
					fn(k, args)
					continue
				}
			}
			walkServers(e, fn)
		}
	case []any:
		for _, e := range v {
			walkServers(e, fn)
		}
	}
}

// TestDeployUsesRealVariables: every BULKGUARD_ variable the compose file
// and the README's deployment snippets set is one bulkguard reads, so a
// renamed flag cannot leave a deployment that silently ignores a setting.
func TestDeployUsesRealVariables(t *testing.T) {
	// Every command's variables, and the typo the README's doctor example
	// shows being caught.
	known := map[string]bool{"BULKGUARD_MAX_OBJETS": true}
	for _, v := range knownVariables() {
		known[v] = true
	}
	re := regexp.MustCompile(`\bBULKGUARD_[A-Z_]+\b`)
	for _, path := range []string{"deploy/compose.yaml", "deploy/.env.example", "README.md"} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range re.FindAllString(string(b), -1) {
			if !known[v] && !strings.HasPrefix(v, "BULKGUARD_SANDBOX_") {
				t.Errorf("%s names %s, which bulkguard does not read", path, v)
			}
		}
	}
}
