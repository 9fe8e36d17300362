package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/tools"
)

// exportProxy stands in front of a sandbox and answers Close's export API itself (the rest is
// passed through): an export holds the leads /data/search/ gives for its s_query, sort and
// results_limit, served gzip from a link on the same host without the API key, as Close's
// presigned links are. Faults make it fail, stall, expire every link, or leave one lead out.
type exportProxy struct {
	srv     *httptest.Server
	backend string
	key     string

	mu      sync.Mutex
	exports map[string][]string
	n       int
	fail    bool
	stall   bool
	expire  bool
	dropOne bool
	gets    int
	auth    []string
}

func newExportProxy(t *testing.T, sb *sandbox.Server) *exportProxy {
	t.Helper()
	back := httptest.NewServer(sb)
	t.Cleanup(back.Close)
	p := &exportProxy{backend: back.URL + "/api/v1", key: sb.APIKey(), exports: map[string][]string{}}
	target, _ := url.Parse(back.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/export/lead/":
			p.create(t, w, r)
		case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/v1/export/"):
			p.get(w, strings.Trim(strings.TrimPrefix(r.URL.Path, "/api/v1/export/"), "/"))
		case strings.HasPrefix(r.URL.Path, "/files/"):
			p.file(w, r)
		default:
			rp.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *exportProxy) base() string { return p.srv.URL + "/api/v1" }

func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// create selects the leads through the sandbox's own search, as a bulk delete with the same
// body would take them.
func (p *exportProxy) create(t *testing.T, w http.ResponseWriter, r *http.Request) {
	var in struct {
		SQuery       json.RawMessage `json:"s_query"`
		Sort         json.RawMessage `json:"sort"`
		ResultsLimit *int            `json:"results_limit"`
		Format, Type string
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Format != "json" || in.Type != "leads" {
		reply(w, 400, map[string]any{"error": "bad export request"})
		return
	}
	body := map[string]any{"query": in.SQuery, "results_limit": in.ResultsLimit, "_limit": 200, "_fields": map[string][]string{"lead": {"id", "display_name"}}}
	if len(in.Sort) > 0 {
		body["sort"] = in.Sort
	}
	var ids []string
	for {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, p.backend+"/data/search/", bytes.NewReader(b))
		req.SetBasicAuth(p.key, "")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			reply(w, 502, map[string]any{"error": err.Error()})
			return
		}
		var page struct {
			Data []struct {
				ID string `json:"id"`
			}
			Cursor *string
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			reply(w, resp.StatusCode, map[string]any{"error": "search failed"})
			return
		}
		for _, d := range page.Data {
			ids = append(ids, d.ID)
		}
		if page.Cursor == nil || *page.Cursor == "" || len(page.Data) == 0 {
			break
		}
		body["cursor"] = *page.Cursor
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	id := fmt.Sprintf("expo_%d", p.n)
	if p.dropOne && len(ids) > 0 {
		ids = ids[1:]
	}
	p.exports[id] = ids
	reply(w, 200, map[string]any{"id": id, "status": "created", "n_docs": nil, "n_docs_processed": 0, "download_url": nil})
}

func (p *exportProxy) get(w http.ResponseWriter, id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids, ok := p.exports[id]
	if !ok {
		reply(w, 404, map[string]any{"error": "Not found."})
		return
	}
	p.gets++
	st, dl := "done", any(fmt.Sprintf("%s/files/%s.json.gz?X-Amz-Signature=s", p.srv.URL, id))
	switch {
	case p.fail:
		st, dl = "error", nil
	case p.stall:
		st, dl = "in_progress", nil
	}
	reply(w, 200, map[string]any{"id": id, "status": st, "n_docs": len(ids), "n_docs_processed": len(ids) / 2, "download_url": dl})
}

func (p *exportProxy) file(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.auth = append(p.auth, r.Header.Get("Authorization"))
	if p.expire {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>")
		return
	}
	ids := p.exports[strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/files/"), ".json.gz")]
	leads := make([]map[string]any, len(ids))
	for i, id := range ids {
		leads[i] = map[string]any{"id": id, "contacts": []any{}, "activities": []any{}}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_ = json.NewEncoder(zw).Encode(leads)
	_ = zw.Close()
	w.Header().Set("Content-Encoding", "gzip")
	_, _ = w.Write(buf.Bytes())
}

// backupEnv is a server whose Close is the sandbox behind an export proxy, with backups required.
type backupEnv struct {
	sb       *sandbox.Server
	proxy    *exportProxy
	srv      *Server
	c        *client.Client
	auditLog string
	dir      string
}

func newBackupEnv(t *testing.T) *backupEnv {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{Seed: 3, Leads: 40})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	e := &backupEnv{sb: sb, proxy: newExportProxy(t, sb), auditLog: filepath.Join(t.TempDir(), "audit.jsonl"), dir: filepath.Join(t.TempDir(), "backups")}
	s, cleanup, err := New(Config{AuditLog: e.auditLog, BackupDir: e.dir,
		Backend: &Backend{BaseURL: e.proxy.base(), APIKey: sb.APIKey(), Environment: EnvSandbox},
		Policy:  guards.Policy{Confirm: guards.ConfirmPhrase, BackupTimeout: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	e.srv = s
	c, err := client.NewInProcessClient(s.MCP())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	testkit.Initialize(t, c, "backup-test", 30*time.Second)
	e.c = c
	return e
}

func (e *backupEnv) call(t *testing.T, name string, args any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := e.c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	out, _ := res.StructuredContent.(map[string]any)
	if out == nil {
		b, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(b, &out)
	}
	return res, out
}

// previewLast previews a delete of the last n leads.
func (e *backupEnv) previewLast(t *testing.T, n int) ([]string, string, string) {
	t.Helper()
	ids, q := testkit.LastLeads(t, e.sb.LeadIDs(), n)
	res, out := e.call(t, tools.ToolPreview, map[string]any{"s_query": q})
	if res.IsError {
		t.Fatalf("preview: %s", testkit.ResultText(res))
	}
	return ids, out["plan_id"].(string), out["confirmation_phrase"].(string)
}

func auditEvents(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestCreateTakesAVerifiedBackupFirst(t *testing.T) {
	e := newBackupEnv(t)
	ids, plan, phrase := e.previewLast(t, 4)
	before := e.sb.NumLeads()
	res, out := e.call(t, tools.ToolCreate, map[string]any{"plan_id": plan, "confirm": phrase})
	if res.IsError {
		t.Fatalf("create: %s", testkit.ResultText(res))
	}
	receipt, _ := out["receipt"].(map[string]any)
	bk, _ := receipt["backup"].(map[string]any)
	if bk == nil || !strings.HasPrefix(bk["sha256"].(string), "sha256:") || !strings.HasPrefix(bk["path"].(string), e.dir) {
		t.Fatalf("receipt has no backup: %v", receipt)
	}
	for _, a := range e.proxy.auth {
		if a != "" {
			t.Error("the download carried the Close credential")
		}
	}
	store, err := backup.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	job := out["job"].(map[string]any)["id"].(string)
	m, err := store.Find(job)
	if err != nil {
		t.Fatalf("no backup for job %s: %v", job, err)
	}
	if m.ID != bk["id"] || m.PlanID != plan || m.State != backup.StateReady || len(m.IDs) != 4 || m.Counts["lead"] != 4 {
		t.Errorf("manifest = %+v", m)
	}
	leads, err := store.ReadLeads(m)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, l := range leads {
		got[l.ID()] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("lead %s is not in the backup", id)
		}
	}
	var intent map[string]any
	for _, r := range auditEvents(t, e.auditLog) {
		if r["event"] == guards.EventCreateIntent {
			intent = r
		}
	}
	if ab, _ := intent["backup"].(map[string]any); ab == nil || ab["sha256"] != bk["sha256"] || ab["path"] != bk["path"] {
		t.Errorf("the create intent's audit record does not name the backup: %v", intent)
	}
	waitFor(t, func() bool { return e.sb.NumLeads() == before-4 })
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBackupFaultsRefuseTheDelete(t *testing.T) {
	tests := []struct {
		name  string
		fault func(p *exportProxy)
		code  string
	}{
		{"export errors", func(p *exportProxy) { p.fail = true }, guards.CodeBackupFailed},
		{"export stalls", func(p *exportProxy) { p.stall = true }, guards.CodeBackupTimeout},
		{"link expires before download", func(p *exportProxy) { p.expire = true }, guards.CodeBackupFailed},
		{"export holds one id fewer", func(p *exportProxy) { p.dropOne = true }, guards.CodeBackupMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newBackupEnv(t)
			_, plan, phrase := e.previewLast(t, 3)
			e.proxy.mu.Lock()
			tc.fault(e.proxy)
			e.proxy.mu.Unlock()
			before := e.sb.NumLeads()
			res, _ := e.call(t, tools.ToolCreate, map[string]any{"plan_id": plan, "confirm": phrase})
			text := testkit.ResultText(res)
			if !res.IsError || !strings.Contains(text, "("+tc.code+")") || !strings.Contains(text, "Nothing was deleted") {
				t.Fatalf("create: %s", text)
			}
			list, _ := e.call(t, tools.ToolList, map[string]any{})
			if strings.Contains(testkit.ResultText(list), "bulkdelete_") {
				t.Errorf("a job was created: %s", testkit.ResultText(list))
			}
			time.Sleep(50 * time.Millisecond)
			if e.sb.NumLeads() != before {
				t.Errorf("%d leads deleted", before-e.sb.NumLeads())
			}
			// The refusal leaves the plan usable: once the fault is gone, the same
			// confirmation goes through.
			e.proxy.mu.Lock()
			e.proxy.fail, e.proxy.stall, e.proxy.expire, e.proxy.dropOne = false, false, false, false
			e.proxy.mu.Unlock()
			res, _ = e.call(t, tools.ToolCreate, map[string]any{"plan_id": plan, "confirm": phrase})
			if res.IsError {
				t.Errorf("retry after the fault: %s", testkit.ResultText(res))
			}
		})
	}
}

func TestBackupOffSaysSoInEveryPreview(t *testing.T) {
	sb, err := sandbox.New(sandbox.Options{Seed: 3, Leads: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	s, cleanup, err := New(Config{AuditLog: filepath.Join(t.TempDir(), "audit.jsonl"), BackupDir: filepath.Join(t.TempDir(), "b"),
		Backend: &Backend{BaseURL: newExportProxy(t, sb).base(), APIKey: sb.APIKey(), Environment: EnvSandbox},
		Policy:  guards.Policy{Backup: guards.BackupOff}})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	c, err := client.NewInProcessClient(s.MCP())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	testkit.Initialize(t, c, "backup-off", 30*time.Second)
	_, q := testkit.LastLeads(t, sb.LeadIDs(), 2)
	res, err := c.CallTool(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tools.ToolPreview, Arguments: map[string]any{"s_query": q}}})
	if err != nil || res.IsError || !strings.Contains(testkit.ResultText(res), "no backup will be taken") {
		t.Fatalf("preview with --backup off: %v %s", err, testkit.ResultText(res))
	}
}
