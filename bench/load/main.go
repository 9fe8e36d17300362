// Command load is bulkguard's load benchmark: many concurrent
// streamable-HTTP MCP clients making a bounded number of mixed calls
// (preview, get, list, lookup) against the built binary on the sandbox. It
// reports errors, latency percentiles, throughput and the peak memory of the
// bulkguard process, and exits non-zero if any call failed.
//
//	go run ./bench/load                   # 50 clients × 100 calls, 2,000 leads
//	go run ./bench/load -leads 1000000    # the same on a million leads
//	go run ./bench/load -replicas 3       # three replicas sharing a Redis, behind a round-robin balancer
//
// It builds bulkguard from the module root (or uses -bin), starts
// `bulkguard sandbox` and `bulkguard --transport http` on loopback ports,
// creates one job for get_bulk_delete to read, runs the load, prints the
// figures (markdown) and stops both processes. Everything is bounded: a
// fixed number of calls and an overall -timeout.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/internal/testkit"
)

func main() {
	var (
		bin      = flag.String("bin", "", "bulkguard binary (default: build it from the module root into a temp dir)")
		leads    = flag.Int("leads", 2000, "sandbox leads (at most 1000000)")
		clients  = flag.Int("clients", 50, "concurrent streamable-HTTP clients")
		calls    = flag.Int("calls", 100, "calls per client (mixed preview, get, list, lookup)")
		timeout  = flag.Duration("timeout", 15*time.Minute, "stop everything after this long")
		logLevel = flag.String("log-level", "info", "bulkguard's --log-level (info or debug: the address is read from its info line)")
		replicas = flag.Int("replicas", 1, "bulkguard processes; more than 1 share a redis-server (--store) behind a round-robin balancer")
	)
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if *replicas < 1 {
		fmt.Fprintln(os.Stderr, "load: -replicas must be at least 1")
		os.Exit(2)
	}
	if err := run(ctx, *bin, *leads, *clients, *calls, *replicas, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// proc is a child process with its stderr kept (the first MiB) for error
// messages and for finding the address it listens on.
type proc struct{ *testkit.Proc }

func start(name, bin string, env []string, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p, err := testkit.Start(name, cmd, 1<<20)
	if err != nil {
		return nil, err
	}
	p.StopTimeout = 10 * time.Second
	return &proc{p}, nil
}

// waitFor returns the first submatch of the stderr line matching re.
func (p *proc) waitFor(ctx context.Context, re *regexp.Regexp) (string, error) {
	m, err := p.Await(ctx, re)
	switch {
	case err == nil:
		return m[1], nil
	case errors.Is(err, testkit.ErrExited):
		return "", fmt.Errorf("%s exited:\n%s", p.Name, p.Output())
	default:
		return "", fmt.Errorf("%s did not start in time:\n%s", p.Name, p.Output())
	}
}

// memKB reads a field (VmHWM, VmRSS) of /proc/<pid>/status in KiB.
func (p *proc) memKB(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return -1
}

func run(ctx context.Context, bin string, leads, nClients, nCalls, nReplicas int, logLevel string) error {
	tmp, err := os.MkdirTemp("", "bulkguard-load-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		if _, err := os.Stat("go.mod"); err != nil {
			return errors.New("run from the module root (go run ./bench/load), or pass -bin")
		}
		bin = filepath.Join(tmp, "bulkguard")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	machine := machineInfo()

	// The sandbox stands in for Close in its own process, so bulkguard's
	// memory is its own; the rate limit and delete pacing are off because
	// the load is far beyond Close's 20 requests a second.
	t0 := time.Now()
	sb, err := start("sandbox", bin, testkit.Environ(), "sandbox", "--listen", "127.0.0.1:0", "--leads", strconv.Itoa(leads),
		"--rate-limit", "0", "--delete-rate", "0", "--log-level", "warn")
	if err != nil {
		return err
	}
	defer sb.Stop()
	base, err := sb.waitFor(ctx, testkit.SandboxBaseURL)
	if err != nil {
		return err
	}
	sandboxReady := time.Since(t0)

	token := randomHex(24)
	env := testkit.Environ("CLOSE_API_KEY=sandbox-demo-key", "XDG_STATE_HOME="+tmp)
	args := []string{"--transport", "http", "--listen", "127.0.0.1:0", "--close-url", base, "--http-token", token,
		"--audit-log", filepath.Join(tmp, "audit-{replica}.jsonl"), "--log-level", logLevel}
	if nReplicas > 1 {
		// Replicas share plans and spent confirmations through Redis, as
		// in the README's deployment; Redis keeps nothing on disk.
		redis, err := testkit.LaunchRedis(tmp)
		if err != nil {
			return err
		}
		defer redis.Stop()
		env = append(env, "BULKGUARD_SEAL_KEY="+randomHex(32))
		args = append(args, "--store", redis.URL())
	}
	var srvs []*proc
	var bases []string
	for i := range nReplicas {
		srv, err := start(fmt.Sprintf("bulkguard-%d", i+1), bin, env, append(args, "--replica-id", fmt.Sprintf("r%d", i+1))...)
		if err != nil {
			return err
		}
		defer srv.Stop()
		u, err := srv.waitFor(ctx, testkit.ListeningURL)
		if err != nil {
			return err
		}
		srvs = append(srvs, srv)
		bases = append(bases, strings.TrimSuffix(u, "/mcp"))
	}
	srv := srvs[0]
	url := bases[0] + "/mcp"
	if nReplicas > 1 {
		lb, err := testkit.StartBalancer("", bases...)
		if err != nil {
			return err
		}
		defer lb.Close()
		url = lb.URL + "/mcp"
	}

	setup, err := connect(ctx, url, token)
	if err != nil {
		return err
	}
	fx, err := prepare(ctx, setup)
	setup.Close()
	if err != nil {
		return fmt.Errorf("setup: %w\n%s", err, srv.Output())
	}
	idle := make([][2]int, len(srvs))
	for i, p := range srvs {
		idle[i] = [2]int{p.memKB("VmHWM"), p.memKB("VmRSS")}
	}

	// Connect every client first, so the measured phase is calls only.
	cs := make([]*client.Client, nClients)
	for i := range cs {
		if cs[i], err = connect(ctx, url, token); err != nil {
			return fmt.Errorf("client %d: %w", i, err)
		}
		defer cs[i].Close()
	}

	type sample struct {
		tool string
		d    time.Duration
		err  string
	}
	results := make([][]sample, nClients)
	var wg sync.WaitGroup
	begin := time.Now()
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(i), 42)) //nolint:gosec // G115: i is a client index, never negative
			for j := 0; j < nCalls; j++ {
				name, args := fx.next(r, j)
				t := time.Now()
				res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
				s := sample{tool: name, d: time.Since(t)}
				switch {
				case err != nil:
					s.err = err.Error()
				case res.IsError:
					s.err = resultText(res)
				}
				results[i] = append(results[i], s)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(begin)
	after := make([][2]int, len(srvs))
	for i, p := range srvs {
		after[i] = [2]int{p.memKB("VmHWM"), p.memKB("VmRSS")}
	}
	sbHWM := sb.memKB("VmHWM")

	var all []time.Duration
	byTool := map[string][]time.Duration{}
	var errs []string
	for _, rs := range results {
		for _, s := range rs {
			all = append(all, s.d)
			byTool[s.tool] = append(byTool[s.tool], s.d)
			if s.err != "" {
				errs = append(errs, s.tool+": "+s.err)
			}
		}
	}

	fmt.Printf("## bulkguard load: %d clients × %d calls, %s sandbox leads, %d replica(s)\n\n", nClients, nCalls, group(leads), nReplicas)
	fmt.Printf("%s\n", machine)
	fmt.Printf("Sandbox ready in %s. Streamable HTTP on loopback, bearer token, log level %s, audit log on (fsync per record).\n\n",
		sandboxReady.Round(time.Millisecond), logLevel)
	fmt.Printf("| calls | errors | wall | throughput | p50 | p90 | p99 | max |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Printf("| %d | %d | %s | %.0f calls/s | %s | %s | %s | %s |\n\n", len(all), len(errs), wall.Round(time.Millisecond),
		float64(len(all))/wall.Seconds(), ms(pct(all, 50)), ms(pct(all, 90)), ms(pct(all, 99)), ms(pct(all, 100)))
	fmt.Printf("| tool | calls | p50 | p99 |\n|---|---|---|---|\n")
	tools := make([]string, 0, len(byTool))
	for k := range byTool {
		tools = append(tools, k)
	}
	slices.Sort(tools)
	for _, k := range tools {
		fmt.Printf("| %s | %d | %s | %s |\n", k, len(byTool[k]), ms(pct(byTool[k], 50)), ms(pct(byTool[k], 99)))
	}
	if nReplicas > 1 {
		fmt.Printf("\nReplicas share a redis-server (--store) behind a round-robin balancer in this process.\n")
	}
	fmt.Printf("\n| bulkguard process | VmHWM (peak RSS) | VmRSS |\n|---|---|---|\n")
	for i, p := range srvs {
		fmt.Printf("| %s idle, after setup | %s | %s |\n", p.Name, mib(idle[i][0]), mib(idle[i][1]))
		fmt.Printf("| %s after the load | %s | %s |\n", p.Name, mib(after[i][0]), mib(after[i][1]))
	}
	fmt.Printf("\nSandbox process (stands in for Close, not bulkguard): VmHWM %s.\n", mib(sbHWM))
	if len(errs) > 0 {
		fmt.Printf("\nFirst errors:\n")
		for _, e := range errs[:min(len(errs), 10)] {
			fmt.Printf("- %s\n", e)
		}
		return fmt.Errorf("%d of %d calls failed", len(errs), len(all))
	}
	return nil
}

func connect(ctx context.Context, url, token string) (*client.Client, error) {
	c, err := client.NewStreamableHttpClient(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	if _, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "bulkguard-load", Version: "1"},
	}}); err != nil {
		return nil, err
	}
	return c, nil
}

// fixture is what the mixed calls use: a job to get, and the queries to
// preview.
type fixture struct {
	jobID   string
	queries []map[string]any
}

var kinds = []string{"lead_statuses", "custom_fields", "smart_views", "users"}

// next is call j of a client: the four tools in turn (so each gets a
// quarter of the calls), with the query and lookup kind drawn at random.
func (f *fixture) next(r *mrand.Rand, j int) (string, map[string]any) {
	switch j % 4 {
	case 0:
		return "preview_bulk_delete", map[string]any{"s_query": f.queries[r.IntN(len(f.queries))], "sample_size": 10}
	case 1:
		return "get_bulk_delete", map[string]any{"id": f.jobID}
	case 2:
		return "list_bulk_deletes", map[string]any{"limit": 20}
	default:
		return "lookup_close_ids", map[string]any{"kind": kinds[r.IntN(len(kinds))]}
	}
}

func and(conds ...any) map[string]any {
	return map[string]any{"type": "and", "queries": append([]any{map[string]any{"type": "object_type", "object_type": "lead"}}, conds...)}
}

func field(name string, cond map[string]any) map[string]any {
	return map[string]any{"type": "field_condition",
		"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": name},
		"condition": cond}
}

// prepare makes the job get_bulk_delete reads (three leads deleted through
// the guard, confirmed with the phrase) and the preview queries: a text
// search, a status, a date window, a custom-field-free has-contact search
// and an id list.
func prepare(ctx context.Context, c *client.Client) (*fixture, error) {
	call := func(name string, args map[string]any, out any) error {
		res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: name, Arguments: args}})
		if err != nil {
			return err
		}
		if res.IsError {
			return fmt.Errorf("%s: %s", name, resultText(res))
		}
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			return err
		}
		return json.Unmarshal(b, out)
	}
	var statuses struct {
		Items []struct{ ID, Name string } `json:"items"`
	}
	if err := call("lookup_close_ids", map[string]any{"kind": "lead_statuses"}, &statuses); err != nil {
		return nil, err
	}
	if len(statuses.Items) == 0 {
		return nil, errors.New("no lead statuses")
	}
	type preview struct {
		PlanID string `json:"plan_id"`
		Phrase string `json:"confirmation_phrase"`
		Sample []struct {
			ID string `json:"id"`
		} `json:"sample"`
	}
	recent := field("date_created", map[string]any{"type": "moment_range", "before": nil,
		"on_or_after": map[string]any{"type": "offset", "direction": "past", "moment": map[string]any{"type": "now"},
			"offset": map[string]any{"years": 0, "months": 0, "weeks": 0, "days": 90, "hours": 0, "minutes": 0, "seconds": 0}, "which_day_end": "start"}})
	var p preview
	if err := call("preview_bulk_delete", map[string]any{"s_query": and(recent), "sample_size": 20}, &p); err != nil {
		return nil, err
	}
	if len(p.Sample) < 13 {
		return nil, fmt.Errorf("the sample has %d leads, need 13", len(p.Sample))
	}
	ids := func(from, to int) map[string]any {
		or := []any{}
		for _, s := range p.Sample[from:to] {
			or = append(or, map[string]any{"type": "id", "value": s.ID})
		}
		return map[string]any{"type": "or", "queries": or}
	}
	var del preview
	if err := call("preview_bulk_delete", map[string]any{"s_query": and(ids(0, 3))}, &del); err != nil {
		return nil, err
	}
	var created struct {
		Job struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	if err := call("create_bulk_delete", map[string]any{"plan_id": del.PlanID, "confirm": del.Phrase}, &created); err != nil {
		return nil, err
	}
	return &fixture{jobID: created.Job.ID, queries: []map[string]any{
		and(ids(3, 13)),
		and(recent),
		and(field("status_id", map[string]any{"type": "reference", "reference_type": "status.lead", "object_ids": []any{statuses.Items[0].ID}})),
		and(field("name", map[string]any{"type": "text", "mode": "full_words", "value": "Ltd"})),
		map[string]any{"query": and(field("name", map[string]any{"type": "text", "mode": "beginning_of_words", "value": "Ce"})), "results_limit": 100,
			"sort": []any{map[string]any{"direction": "desc", "field": map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "date_created"}}}},
	}}, nil
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	s := b.String()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func mib(kb int) string {
	if kb < 0 {
		return "?"
	}
	return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
}

func group(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// machineInfo describes where the figures were taken.
func machineInfo() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
			}
		}
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return fmt.Sprintf("Machine: %s, %d cores, %s RAM, %s %s/%s, load average before the run %s.",
		cpu, runtime.NumCPU(), mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, load)
}
