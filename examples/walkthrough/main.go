// Command walkthrough shows bulkguard at work without a model: it starts
// bulkguard on its built-in sandbox as a subprocess over stdio, then plays the
// assistant and the person in turn, narrating each step:
//
//  1. look up the id of the "Bad Fit" lead status (lookup_close_ids);
//  2. preview "Bad Fit leads created more than a year ago"
//     (preview_bulk_delete: summary, count, sample, confirmation phrase);
//  3. create the bulk delete; bulkguard asks for confirmation through an
//     elicitation form, and the person types the phrase;
//  4. follow the job with get_bulk_delete behind a progress bar;
//  5. show the finished job and the audit records of the run.
//
// Run it from the repository:
//
//	go run ./examples/walkthrough
//
// It builds bulkguard from this checkout into a temporary directory (or uses
// -bulkguard), talks only to the sandbox (never to Close, whatever
// CLOSE_API_KEY says), uses colour only on a terminal, and exits 0 when the
// whole flow worked.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

func main() {
	bin := flag.String("bulkguard", "", "path of a bulkguard binary to run (default: build this checkout into a temporary directory)")
	rate := flag.Float64("delete-rate", 50, "sandbox deletes per second (slow enough to watch the progress bar)")
	flag.Parse()
	w := newWriter(os.Stdout)
	if err := run(context.Background(), w, *bin, *rate); err != nil {
		w.fail(err)
		os.Exit(1)
	}
}

// run is the whole walkthrough; every failure comes back as an error.
func run(ctx context.Context, w *writer, bin string, rate float64) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "bulkguard-walkthrough-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	w.title("bulkguard walkthrough: an assistant deletes \"Bad Fit leads created more than a year ago\"")
	w.note("Everything runs against bulkguard's built-in sandbox, an in-memory Close organization with demo data. Nothing touches Close.")

	if bin == "" {
		w.step("Building bulkguard from this checkout")
		if bin, err = build(ctx, tmp); err != nil {
			return err
		}
	}

	auditLog := filepath.Join(tmp, "audit.jsonl")
	w.step("Starting bulkguard over stdio, as an MCP client would")
	args := []string{"--sandbox", "--delete-rate", fmt.Sprint(rate), "--audit-log", auditLog, "--log-level", "warn"}
	w.cmd("bulkguard " + strings.Join(args, " "))
	var serverLog lockedBuffer
	person := &person{w: w}
	tr := transport.NewStdioWithOptions(bin, nil, args,
		transport.WithCommandStderrWriter(&serverLog),
		// Our own command: the environment is the caller's minus any Close
		// key or bulkguard setting, so the walkthrough can only ever see the
		// sandbox.
		transport.WithCommandFunc(func(ctx context.Context, command string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = cleanEnv()
			return cmd, nil
		}))
	c := client.NewClient(tr, client.WithElicitationHandler(person))
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("start bulkguard: %w\n%s", err, serverLog.String())
	}
	defer c.Close()
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "bulkguard-walkthrough", Version: "1.0.0"}
	info, err := c.Initialize(ctx, init)
	if err != nil {
		return fmt.Errorf("initialize: %w\n%s", err, serverLog.String())
	}
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
	}
	w.result("connected to %s %s (MCP %s), %d tools: %s", info.ServerInfo.Name, info.ServerInfo.Version, info.ProtocolVersion, len(names), strings.Join(names, ", "))

	call := func(name string, args map[string]any, out any) error {
		w.call(name, args)
		req := mcp.CallToolRequest{}
		req.Params.Name = name
		req.Params.Arguments = args
		res, err := c.CallTool(ctx, req)
		if err != nil {
			return fmt.Errorf("%s: %w\n%s", name, err, serverLog.String())
		}
		if res.IsError {
			return fmt.Errorf("%s was refused: %s", name, textOf(res))
		}
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, out)
	}

	// 1. The status id: Close queries take ids, never names.
	w.say("Which id does the \"Bad Fit\" lead status have? I will look it up rather than guess.")
	var statuses struct {
		Environment string `json:"environment"`
		Items       []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := call("lookup_close_ids", map[string]any{"kind": "lead_statuses"}, &statuses); err != nil {
		return err
	}
	var badFit string
	for _, it := range statuses.Items {
		w.item("%-10s %s", it.Name, w.dim(it.ID))
		if it.Name == "Bad Fit" {
			badFit = it.ID
		}
	}
	if badFit == "" {
		return errors.New(`the sandbox has no "Bad Fit" lead status`)
	}
	w.result("\"Bad Fit\" is %s", badFit)

	// 2. The preview: the person sees the count, a sample and the summary.
	w.say("Previewing \"Bad Fit leads created more than a year ago\". Nothing is deleted by a preview.")
	query := json.RawMessage(fmt.Sprintf(`{"type":"and","queries":[`+
		`{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},`+
		`"condition":{"type":"reference","reference_type":"status.lead","object_ids":[%q]}},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"},`+
		`"condition":{"type":"moment_range","on_or_after":null,"before":{"type":"offset","direction":"past","moment":{"type":"now"},`+
		`"offset":{"years":1,"months":0,"weeks":0,"days":0,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}}}]}`, badFit))
	var p struct {
		PlanID      string `json:"plan_id"`
		Environment string `json:"environment"`
		Total       int    `json:"total"`
		WillDelete  int    `json:"will_delete"`
		Summary     string `json:"summary"`
		Sample      []struct {
			ID          string `json:"id"`
			DisplayName string `json:"display_name"`
		} `json:"sample"`
		Warnings           []string  `json:"warnings"`
		Executable         bool      `json:"executable"`
		ConfirmationPhrase string    `json:"confirmation_phrase"`
		ExpiresAt          time.Time `json:"expires_at"`
	}
	if err := call("preview_bulk_delete", map[string]any{"s_query": query, "sample_size": 5}, &p); err != nil {
		return err
	}
	w.field("environment", p.Environment)
	w.field("summary", p.Summary)
	w.field("count", fmt.Sprintf("%d leads match; %d would be deleted", p.Total, p.WillDelete))
	w.field("sample", fmt.Sprintf("%d of them:", len(p.Sample)))
	for _, s := range p.Sample {
		w.item("%s %s", s.DisplayName, w.dim("("+s.ID+")"))
	}
	for _, warn := range p.Warnings {
		w.field("warning", warn)
	}
	w.field("phrase", w.bold(p.ConfirmationPhrase))
	w.field("plan", fmt.Sprintf("%s, valid until %s", p.PlanID, p.ExpiresAt.Local().Format("15:04:05")))
	if !p.Executable || p.WillDelete == 0 {
		return fmt.Errorf("the preview is not executable (%d matches)", p.Total)
	}

	// 3. The create: bulkguard asks the person, not the assistant.
	w.say(fmt.Sprintf("Asking bulkguard to delete these %d leads. bulkguard will ask you to confirm.", p.WillDelete))
	person.expect(p.ConfirmationPhrase)
	var created struct {
		Job     json.RawMessage `json:"job"`
		Receipt struct {
			PlanID           string `json:"plan_id"`
			Previewed        int    `json:"previewed"`
			Recounted        int    `json:"recounted"`
			ResultsLimitSent int    `json:"results_limit_sent"`
			ConfirmedBy      string `json:"confirmed_by"`
			AuditID          string `json:"audit_id"`
		} `json:"receipt"`
	}
	if err := call("create_bulk_delete", map[string]any{"plan_id": p.PlanID}, &created); err != nil {
		return err
	}
	if !person.asked() {
		return errors.New("bulkguard did not ask for confirmation")
	}
	var job struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(created.Job, &job); err != nil {
		return err
	}
	r := created.Receipt
	w.result("job %s started (status %s), confirmed by %s", job.ID, job.Status, r.ConfirmedBy)
	w.field("receipt", fmt.Sprintf("previewed %d, recounted %d just before sending, results_limit sent %d (Close can never delete more), audit record %s",
		r.Previewed, r.Recounted, r.ResultsLimitSent, r.AuditID))

	// 4. Follow the job.
	w.say("Following the job. pause_bulk_delete would be the brake.")
	var g struct {
		Job      json.RawMessage `json:"job"`
		Progress struct {
			Processed int      `json:"processed"`
			Total     *int     `json:"total"`
			Percent   *float64 `json:"percent"`
			Terminal  bool     `json:"terminal"`
		} `json:"progress"`
	}
	w.call("get_bulk_delete", map[string]any{"id": job.ID})
	bar := w.progress()
	for {
		req := mcp.CallToolRequest{}
		req.Params.Name = "get_bulk_delete"
		req.Params.Arguments = map[string]any{"id": job.ID}
		res, err := c.CallTool(ctx, req)
		if err != nil {
			return fmt.Errorf("get_bulk_delete: %w", err)
		}
		if res.IsError {
			return fmt.Errorf("get_bulk_delete: %s", textOf(res))
		}
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &g); err != nil {
			return err
		}
		total, pct := p.WillDelete, 0.0
		if g.Progress.Total != nil {
			total = *g.Progress.Total
		}
		if g.Progress.Percent != nil {
			pct = *g.Progress.Percent
		}
		bar.update(g.Progress.Processed, total, pct)
		if g.Progress.Terminal {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	bar.done()

	// 5. The finished job and the audit record.
	w.step("The finished job, as Close returns it")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(g.Job, &fields); err != nil {
		return err
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var compact bytes.Buffer
		_ = json.Compact(&compact, fields[k])
		v := compact.String()
		if len(v) > 100 {
			v = v[:97] + "…"
		}
		w.field(k, v)
	}
	var final struct {
		Status            string `json:"status"`
		NObjectsProcessed int    `json:"n_objects_processed"`
	}
	_ = json.Unmarshal(g.Job, &final)
	if final.Status != "done" || final.NObjectsProcessed != p.WillDelete {
		return fmt.Errorf("the job ended %s after %d of %d", final.Status, final.NObjectsProcessed, p.WillDelete)
	}

	w.step("The audit log (" + auditLog + ")")
	if err := showAudit(w, auditLog); err != nil {
		return err
	}

	w.step("Done.")
	w.note(fmt.Sprintf("%d Bad Fit leads older than a year were deleted from the sandbox, after a preview, a typed confirmation and a recount.", final.NObjectsProcessed))
	w.note("Next: point your MCP client at bulkguard (examples/clients/) and ask it in your own words.")
	return nil
}

// build compiles the bulkguard module this walkthrough belongs to.
func build(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	if strings.TrimSpace(string(gomod)) == "" || root == "." {
		return "", errors.New("run the walkthrough from inside the bulkguard repository (go run ./examples/walkthrough), or pass -bulkguard")
	}
	bin := filepath.Join(dir, "bulkguard")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// cleanEnv is this process's environment without a Close key or bulkguard
// settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "CLOSE_API_KEY" || strings.HasPrefix(k, "BULKGUARD_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// person is the human at the keyboard: it reads bulkguard's confirmation
// form and types the phrase it was shown in the preview.
type person struct {
	w *writer

	mu     sync.Mutex
	phrase string
	n      int
}

func (p *person) expect(phrase string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phrase, p.n = phrase, 0
}

func (p *person) asked() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n > 0
}

// Elicit implements client.ElicitationHandler.
func (p *person) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	p.mu.Lock()
	phrase := p.phrase
	p.n++
	p.mu.Unlock()
	p.w.form(req.Params.Message)
	res := &mcp.ElicitationResult{}
	if phrase == "" || !strings.Contains(req.Params.Message, phrase) {
		// A form that does not show the phrase the preview showed is not
		// one to accept.
		p.w.typed("(cancelled: this is not the delete that was previewed)")
		res.Action = mcp.ElicitationResponseActionCancel
		return res, nil
	}
	p.w.typed(phrase)
	res.Action = mcp.ElicitationResponseActionAccept
	res.Content = map[string]any{"phrase": phrase}
	return res, nil
}

func showAudit(w *writer, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, line := range lines[max(0, len(lines)-4):] {
		var r struct {
			ID        string    `json:"id"`
			Time      time.Time `json:"time"`
			Event     string    `json:"event"`
			PlanID    string    `json:"plan_id"`
			Principal string    `json:"principal"`
			Total     *int      `json:"total"`
			JobID     string    `json:"job_id"`
			Outcome   string    `json:"outcome"`
			Summary   string    `json:"summary"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return fmt.Errorf("audit line %q: %w", line, err)
		}
		var parts []string
		for _, kv := range [][2]string{{"plan", r.PlanID}, {"job", r.JobID}, {"outcome", r.Outcome}, {"by", r.Principal}} {
			if kv[1] != "" {
				parts = append(parts, kv[0]+"="+kv[1])
			}
		}
		if r.Total != nil {
			parts = append(parts, fmt.Sprintf("total=%d", *r.Total))
		}
		w.item("%s %s %-14s %s", r.Time.Local().Format("15:04:05"), w.dim(r.ID), w.bold(r.Event), strings.Join(parts, " "))
	}
	return nil
}

func textOf(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// lockedBuffer collects the server's stderr for error messages.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ io.Writer = (*lockedBuffer)(nil)
