// Package clients holds ready MCP client configurations for bulkguard (see
// README.md). This test keeps them honest against the real binary: every
// flag and environment variable they use must be one `bulkguard --help`
// documents, every stdio entry must start exactly as configured, and every
// HTTP entry's URL and header must reach a running server.
package clients

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// configs are the files and the key that holds their servers.
var configs = []struct {
	client, path, serversKey string
	// urlKey is the key of a remote server's URL in this client's format.
	urlKey string
	// typed: every entry must say "type" (stdio, http, sse).
	typed bool
}{
	{"Claude Desktop", "claude-desktop/claude_desktop_config.json", "mcpServers", "", false},
	{"Claude Code", "claude-code/.mcp.json", "mcpServers", "url", true},
	{"Cursor", "cursor/mcp.json", "mcpServers", "url", false},
	{"VS Code", "vscode/.vscode/mcp.json", "servers", "url", true},
	{"Windsurf", "windsurf/mcp_config.json", "mcpServers", "serverUrl", false},
	{"Zed", "zed/settings.json", "context_servers", "url", false},
}

type entry struct {
	Type      string            `json:"type"`
	Source    string            `json:"source"` // Zed: "custom"
	Command   string            `json:"command"`
	Args      []string          `json:"args"`
	Env       map[string]string `json:"env"`
	URL       string            `json:"url"`
	ServerURL string            `json:"serverUrl"`
	Headers   map[string]string `json:"headers"`
}

type input struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Description string `json:"description"`
	Password    bool   `json:"password"`
}

// help is what `bulkguard --help` documents.
type help struct {
	flags    map[string]string // name → value type ("" for a boolean)
	env      map[string]bool
	defaults map[string]string
}

var (
	reFlagLine = regexp.MustCompile(`^  --([a-z0-9-]+)(?: (\S+))?$`)
	reEnvName  = regexp.MustCompile(`\b(BULKGUARD_[A-Z0-9_]+|CLOSE_API_KEY)\b`)
	reDefault  = regexp.MustCompile(`default ([^,)]+)\)?$`)
)

// buildBinary builds bulkguard from the module root into a temporary
// directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bulkguard")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// parseHelp runs `bulkguard --help` and reads its flag list: an entry is
// "  --name type", then the usage, then "(env VAR, default D)".
func parseHelp(t *testing.T, bin string) help {
	t.Helper()
	out, err := exec.Command(bin, "--help").Output()
	if err != nil {
		t.Fatalf("bulkguard --help: %v", err)
	}
	h := help{flags: map[string]string{}, env: map[string]bool{}, defaults: map[string]string{}}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if m := reFlagLine.FindStringSubmatch(line); m != nil {
			last = m[1]
			h.flags[last] = m[2]
			continue
		}
		for _, m := range reEnvName.FindAllString(line, -1) {
			h.env[m] = true
		}
		if last != "" {
			if m := reDefault.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
				h.defaults[last] = m[1]
			}
		}
	}
	for _, must := range []string{"transport", "http-token", "read-only", "sandbox", "listen"} {
		if _, ok := h.flags[must]; !ok {
			t.Fatalf("bulkguard --help does not list --%s; parsed %v\n%s", must, h.flags, out)
		}
	}
	if !h.env["CLOSE_API_KEY"] || !h.env["BULKGUARD_HTTP_TOKEN"] {
		t.Fatalf("bulkguard --help does not name CLOSE_API_KEY and BULKGUARD_HTTP_TOKEN\n%s", out)
	}
	return h
}

// checkArgs checks args the way bulkguard's FlagSet parses them: an optional
// "serve" first, then --name, --name=value or --name value (a boolean takes
// no separate value).
func checkArgs(t *testing.T, h help, where string, args []string) {
	t.Helper()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if i == 0 && a == "serve" {
			continue
		}
		if !strings.HasPrefix(a, "-") {
			t.Errorf("%s: argument %q is not a flag", where, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		typ, ok := h.flags[name]
		if !ok {
			t.Errorf("%s: --%s is not a bulkguard flag", where, name)
			continue
		}
		if typ != "" && !hasValue {
			if i+1 >= len(args) {
				t.Errorf("%s: --%s needs a value", where, name)
			}
			i++
		}
	}
}

var (
	reInputRef = regexp.MustCompile(`\$\{input:([A-Za-z0-9_]+)\}`)
	reEnvRef   = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}`)
)

// expand replaces the client's placeholders the way the client would:
// ${input:id} (VS Code) with the test's answer for that input, and ${VAR}
// / ${VAR:-default} (Claude Code) from vars, else the default. Each
// reference must be to a declared input or a real variable.
func expand(t *testing.T, h help, where, s string, inputs map[string]string, vars map[string]string) string {
	t.Helper()
	s = reInputRef.ReplaceAllStringFunc(s, func(m string) string {
		id := reInputRef.FindStringSubmatch(m)[1]
		v, ok := inputs[id]
		if !ok {
			t.Errorf("%s: ${input:%s} is not declared in inputs", where, id)
		}
		return v
	})
	return reEnvRef.ReplaceAllStringFunc(s, func(m string) string {
		sm := reEnvRef.FindStringSubmatch(m)
		name, def := sm[1], sm[2]
		if !h.env[name] {
			t.Errorf("%s: ${%s} is not an environment variable bulkguard reads", where, name)
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return def
	})
}

const testToken = "clients-test-token-0123456789"

// TestClientConfigs checks every configuration file against the binary.
func TestClientConfigs(t *testing.T) {
	bin := buildBinary(t)
	h := parseHelp(t, bin)
	for _, cfg := range configs {
		t.Run(cfg.client, func(t *testing.T) {
			raw, err := os.ReadFile(cfg.path)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatalf("%s is not JSON: %v", cfg.path, err)
			}
			var servers map[string]json.RawMessage
			if err := json.Unmarshal(doc[cfg.serversKey], &servers); err != nil || len(servers) == 0 {
				t.Fatalf("%s: no %q servers: %v", cfg.path, cfg.serversKey, err)
			}
			// VS Code prompts for secrets once through inputs; each must be a
			// password prompt, and each must be used.
			answers := map[string]string{}
			if rawInputs, ok := doc["inputs"]; ok {
				var inputs []input
				if err := json.Unmarshal(rawInputs, &inputs); err != nil {
					t.Fatalf("inputs: %v", err)
				}
				for _, in := range inputs {
					if in.Type != "promptString" || !in.Password || in.Description == "" {
						t.Errorf("input %+v: want a described promptString with password: true", in)
					}
					if !bytes.Contains(raw, []byte("${input:"+in.ID+"}")) {
						t.Errorf("input %q is never used", in.ID)
					}
					answers[in.ID] = "sandbox-demo-key"
					if strings.Contains(in.ID, "token") {
						answers[in.ID] = testToken
					}
				}
			}
			vars := map[string]string{"CLOSE_API_KEY": "sandbox-demo-key", "BULKGUARD_HTTP_TOKEN": testToken}
			var stdio, remote int
			for name, rawEntry := range servers {
				var e entry
				dec := json.NewDecoder(bytes.NewReader(rawEntry))
				dec.DisallowUnknownFields()
				if err := dec.Decode(&e); err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				where := cfg.path + ": " + name
				if cfg.client == "Zed" && e.Source != "custom" {
					t.Errorf("%s: Zed custom servers say \"source\": \"custom\"", where)
				}
				switch {
				case e.Command != "":
					stdio++
					if cfg.typed && e.Type != "stdio" {
						t.Errorf("%s: type %q, want stdio", where, e.Type)
					}
					checkStdio(t, h, bin, where, e, answers, vars)
				default:
					remote++
					u := e.URL
					if cfg.urlKey == "serverUrl" {
						u = e.ServerURL
						if e.URL != "" {
							t.Errorf("%s: Windsurf names the URL serverUrl", where)
						}
					}
					if cfg.urlKey == "" {
						t.Errorf("%s: %s has no JSON configuration for remote servers", where, cfg.client)
						continue
					}
					transport := "http"
					if e.Type == "sse" || strings.HasSuffix(u, "/sse") {
						transport = "sse"
					}
					if cfg.typed && e.Type != transport {
						t.Errorf("%s: type %q for %s", where, e.Type, u)
					}
					checkRemote(t, h, bin, where, transport, u, e.Headers, answers, vars)
				}
			}
			if stdio == 0 {
				t.Errorf("%s has no stdio server", cfg.path)
			}
			if cfg.urlKey != "" && remote == 0 {
				t.Errorf("%s supports HTTP but configures no remote server", cfg.path)
			}
		})
	}
}

// checkStdio checks a stdio entry's command, flags and environment, then
// starts it as the client would (stdin closed at once, so the server starts,
// reads end of input and exits). The Close URL is pointed at a closed local
// port so nothing could ever reach Close.
func checkStdio(t *testing.T, h help, bin, where string, e entry, inputs, vars map[string]string) {
	t.Helper()
	if filepath.Base(e.Command) != "bulkguard" {
		t.Errorf("%s: command %q, want the bulkguard binary", where, e.Command)
	}
	checkArgs(t, h, where, e.Args)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_STATE_HOME=" + t.TempDir(),
		"BULKGUARD_CLOSE_URL=http://127.0.0.1:9/api/v1", "BULKGUARD_AUDIT_LOG=" + filepath.Join(t.TempDir(), "audit.jsonl")}
	for k, v := range e.Env {
		if !h.env[k] {
			t.Errorf("%s: env %s is not a variable bulkguard reads", where, k)
		}
		if k == "CLOSE_API_KEY" && strings.HasPrefix(v, "api_") && v != "api_REPLACE_WITH_YOUR_KEY" {
			t.Errorf("%s: a real-looking Close key in an example", where)
		}
		v = expand(t, h, where, v, inputs, vars)
		if k == "BULKGUARD_AUDIT_LOG" {
			v = filepath.Join(t.TempDir(), filepath.Base(v))
		}
		env = append(env, k+"="+v)
	}
	args := make([]string, len(e.Args))
	for i, a := range e.Args {
		args[i] = expand(t, h, where, a, inputs, vars)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("%s: bulkguard %s exited with %v\n%s", where, strings.Join(args, " "), err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("%s: wrote %q to stdout (reserved for the protocol)", where, stdout.String())
	}
}

var reBearer = regexp.MustCompile(`^Bearer (\$\{input:[a-z_]+\}|\$\{BULKGUARD_HTTP_TOKEN\}|REPLACE_WITH_BULKGUARD_HTTP_TOKEN)$`)

// checkRemote checks a remote entry: the URL is the default listen address
// and the transport's path, the only header is the bearer token; then a
// server with that transport answers the header at that path.
func checkRemote(t *testing.T, h help, bin, where, transport, rawURL string, headers, inputs, vars map[string]string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Errorf("%s: url %q: %v", where, rawURL, err)
		return
	}
	wantPath := map[string]string{"http": "/mcp", "sse": "/sse"}[transport]
	if u.Scheme != "http" || u.Host != h.defaults["listen"] || u.Path != wantPath {
		t.Errorf("%s: url %q, want http://%s%s (the --listen default and the %s path)", where, rawURL, h.defaults["listen"], wantPath, transport)
	}
	if len(headers) != 1 || !reBearer.MatchString(headers["Authorization"]) {
		t.Errorf("%s: headers %v, want only Authorization: Bearer <token placeholder>", where, headers)
		return
	}
	auth := headers["Authorization"]
	if strings.Contains(auth, "REPLACE_WITH") {
		auth = "Bearer " + testToken
	}
	auth = expand(t, h, where, auth, inputs, vars)

	srv := startServer(t, bin, transport)
	target := srv + u.Path
	var req *http.Request
	if transport == "http" {
		req, _ = http.NewRequest(http.MethodPost, target, strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"clients-test","version":"1"}}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	} else {
		req, _ = http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept", "text/event-stream")
	}
	req.Header.Set("Authorization", auth)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	defer resp.Body.Close()
	// The first bytes are enough: an initialize result, or SSE's endpoint event.
	first := make([]byte, 512)
	n, _ := io.ReadAtLeast(resp.Body, first, 16)
	body := string(first[:n])
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s: %s %s with the configured header: %d %s", where, req.Method, u.Path, resp.StatusCode, body)
	}
	want := map[string]string{"http": `"protocolVersion"`, "sse": "event: endpoint"}[transport]
	if !strings.Contains(body, want) {
		t.Errorf("%s: answer %q does not contain %q", where, body, want)
	}
}

var reListening = regexp.MustCompile(`url=http://(\S+?)/(mcp|sse)\b`)

// startServer runs bulkguard on the built-in sandbox with the test token and
// returns its base URL.
func startServer(t *testing.T, bin, transport string) string {
	t.Helper()
	cmd := exec.Command(bin, "--transport", transport, "--listen", "127.0.0.1:0", "--http-token", testToken, "--sandbox",
		"--audit-log", filepath.Join(t.TempDir(), "audit.jsonl"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		pw.Close()
	})
	found := make(chan string, 1)
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := reListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case addr := <-found:
		return "http://" + addr
	case <-time.After(60 * time.Second):
		t.Fatalf("bulkguard --transport %s did not log its address", transport)
		return ""
	}
}

// TestReadmeCommands checks the shell commands in README.md against the
// flags too: a command the README tells people to type must parse.
func TestReadmeCommands(t *testing.T) {
	bin := buildBinary(t)
	h := parseHelp(t, bin)
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || !strings.Contains(line, "bulkguard --") {
			continue
		}
		_, cmdline, _ := strings.Cut(line, "bulkguard ")
		fields := strings.Fields(cmdline)
		// Drop a trailing shell comment.
		if i := slices.Index(fields, "#"); i >= 0 {
			fields = fields[:i]
		}
		checkArgs(t, h, fmt.Sprintf("README.md: %q", line), fields)
		n++
	}
	if n == 0 {
		t.Fatal("README.md shows no bulkguard command")
	}
}
