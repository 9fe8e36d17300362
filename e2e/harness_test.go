package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
)

// bin is the bulkguard binary TestMain builds once for every test, from the
// module root (this package's parent) exactly as a user would build it; a
// build failure fails every test that needs it.
var bin = testkit.Binary{Root: ".."}

func TestMain(m *testing.M) {
	testkit.TempDirMain(m, "bulkguard-e2e-", "e2e", &bin, func() error {
		_, _ = bin.Build() // needBinary reports a failure
		return nil
	})
}

// needBinary fails the test when the binary could not be built.
func needBinary(t *testing.T) string {
	t.Helper()
	return bin.Path(t)
}

// cleanEnv is the environment for processes we spawn: the caller's, minus
// anything that would change bulkguard's configuration behind the test's
// back (a developer's CLOSE_API_KEY or BULKGUARD_* settings), plus extra.
func cleanEnv(t *testing.T, extra ...string) []string {
	return testkit.CleanEnv(t, extra...)
}

// proc is a spawned process whose stderr is kept for the test.
type proc = testkit.Proc

// startProc starts the binary with args and env; stdin is closed
// (/dev/null) and stdout is discarded. The process is stopped when the test
// ends.
func startProc(t *testing.T, name string, env []string, args ...string) *proc {
	t.Helper()
	return testkit.StartT(t, name, needBinary(t), env, args...)
}

// sandboxProc is `bulkguard sandbox` running as its own process: the Close
// API every server under test talks to, and what the tests inspect
// afterwards.
type sandboxProc struct {
	*proc
	baseURL string
	apiKey  string
}

var reAPIKey = regexp.MustCompile(`^\s*API key:\s*(\S+)`)

// startSandbox serves a fresh demo org (the default seed, so the data is the
// same every run) with no delete-rate limit so jobs finish quickly and no
// request rate limit (the Inspector CLI is one process per call, and a flow
// polls).
func startSandbox(t *testing.T) *sandboxProc {
	t.Helper()
	p := startProc(t, "bulkguard sandbox", cleanEnv(t), "sandbox", "--listen", "127.0.0.1:0", "--log-format", "json",
		"--delete-rate", "0", "--rate-limit", "0")
	sb := &sandboxProc{proc: p}
	sb.baseURL = p.WaitFor(testkit.SandboxBaseURL, 60*time.Second)[1]
	sb.apiKey = p.WaitFor(reAPIKey, 5*time.Second)[1]
	return sb
}

// do sends one request to the sandbox's Close API with its key.
func (s *sandboxProc) do(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(s.baseURL, "/")+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(s.apiKey, "")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// leadExists asks the sandbox for one lead: 200 → true, 404 → false.
func (s *sandboxProc) leadExists(t *testing.T, id string) bool {
	t.Helper()
	code, body := s.do(t, http.MethodGet, "/lead/"+id+"/", nil)
	switch code {
	case http.StatusOK:
		return true
	case http.StatusNotFound:
		return false
	}
	t.Fatalf("GET /lead/%s/: %d %s", id, code, body)
	return false
}

// search returns the ids of every lead the query matches, through the
// sandbox's /data/search/ (cursor paging, as Close), and the reported total.
func (s *sandboxProc) search(t *testing.T, query json.RawMessage) (ids []string, total int) {
	t.Helper()
	var cursor *string
	for page := 0; ; page++ {
		if page > 200 {
			t.Fatal("data/search: too many pages")
		}
		body := map[string]any{
			"query":          query,
			"results_limit":  nil,
			"_limit":         200,
			"include_counts": true,
			"_fields":        map[string][]string{"lead": {"id"}},
		}
		if cursor != nil {
			body["cursor"] = *cursor
		}
		code, b := s.do(t, http.MethodPost, "/data/search/", body)
		if code != http.StatusOK {
			t.Fatalf("POST /data/search/: %d %s", code, b)
		}
		var resp struct {
			Data   []struct{ ID string } `json:"data"`
			Cursor *string               `json:"cursor"`
			Count  *struct{ Total int }  `json:"count"`
		}
		if err := json.Unmarshal(b, &resp); err != nil {
			t.Fatalf("data/search answer: %v: %s", err, b)
		}
		if resp.Count != nil && page == 0 {
			total = resp.Count.Total
		}
		for _, d := range resp.Data {
			ids = append(ids, d.ID)
		}
		if resp.Cursor == nil || *resp.Cursor == "" || len(resp.Data) == 0 {
			return ids, total
		}
		cursor = resp.Cursor
	}
}

// allLeads is a query for every lead, used only against the sandbox's own API
// to count what remains (bulkguard refuses to delete by it).
var allLeads = json.RawMessage(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"}]}`)

// serverProc is bulkguard serving MCP over HTTP (streamable or SSE).
type serverProc struct {
	*proc
	url      string // the MCP endpoint (…/mcp or …/sse)
	base     string // http://host:port
	token    string
	auditLog string
}

// testToken is the bearer token the HTTP servers under test require.
const testToken = "e2e-token-0123456789abcdef"

// startHTTPServer runs bulkguard --transport http|sse against sb (or the
// built-in sandbox when sb is nil) and waits until it listens.
func startHTTPServer(t *testing.T, transport string, sb *sandboxProc, extra ...string) *serverProc {
	t.Helper()
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	args := []string{"--transport", transport, "--listen", "127.0.0.1:0", "--http-token", testToken,
		"--log-format", "json", "--audit-log", audit}
	env := cleanEnv(t)
	if sb != nil {
		args = append(args, "--close-url", sb.baseURL)
		env = append(env, "CLOSE_API_KEY="+sb.apiKey)
	}
	args = append(args, extra...)
	p := startProc(t, "bulkguard --transport "+transport, env, args...)
	u := p.WaitFor(testkit.ListeningURLJSON, 60*time.Second)[1]
	base := u[:strings.LastIndex(u, "/")]
	return &serverProc{proc: p, url: u, base: base, token: testToken, auditLog: audit}
}

// stdioArgs are the arguments of a stdio server against sb, for clients that
// spawn the server themselves.
func stdioArgs(t *testing.T, sb *sandboxProc, extra ...string) (args, env []string, auditLog string) {
	auditLog = filepath.Join(t.TempDir(), "audit.jsonl")
	args = []string{"--log-format", "json", "--audit-log", auditLog}
	env = cleanEnv(t)
	if sb != nil {
		args = append(args, "--close-url", sb.baseURL)
		env = append(env, "CLOSE_API_KEY="+sb.apiKey)
	}
	return append(args, extra...), env, auditLog
}

// auditRecord is one line of the audit log (guards.AuditRecord's JSON).
type auditRecord struct {
	ID               string    `json:"id"`
	Time             time.Time `json:"time"`
	Event            string    `json:"event"`
	PlanID           string    `json:"plan_id"`
	Principal        string    `json:"principal"`
	Environment      string    `json:"environment"`
	ObjectType       string    `json:"object_type"`
	QueryDigest      string    `json:"query_digest"`
	Summary          string    `json:"summary"`
	Total            *int      `json:"total"`
	WillDelete       *int      `json:"will_delete"`
	Recounted        *int      `json:"recounted"`
	ResultsLimitSent *int      `json:"results_limit_sent"`
	JobID            string    `json:"job_id"`
	Outcome          string    `json:"outcome"`
	Code             string    `json:"code"`
	Reason           string    `json:"reason"`
	Backup           *struct {
		ID     string `json:"id"`
		Path   string `json:"path"`
		SHA256 string `json:"sha256"`
	} `json:"backup"`
}

// readAudit parses the audit log; it also fails the test when a credential
// (the Close key or the HTTP token) appears anywhere in it.
func readAudit(t *testing.T, path string, secrets ...string) []auditRecord {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	for _, s := range secrets {
		if s != "" && bytes.Contains(b, []byte(s)) {
			t.Fatalf("audit log %s contains a credential", path)
		}
	}
	var recs []auditRecord
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r auditRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		recs = append(recs, r)
	}
	return recs
}
