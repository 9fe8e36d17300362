// Command overhead measures what bulkguard adds to one Close call, and how
// fast it starts.
//
// Overhead: the latency of get_bulk_delete through the bulkguard binary over
// stdio and over streamable HTTP, against the floor: a bare mcp-go v1.2.1
// server of bench's own (internal/bare) whose "get" tool sends the same GET
// and returns the body, the least any MCP server built on mcp-go can do for
// one Close read. The same GET sent straight to the sandbox and the bare
// server's "noop" tool (the library alone) are measured alongside. Every
// call goes through the same client (the official Go SDK), one call in
// flight, interleaved in rotating rounds so that drift (thermal, other load)
// falls on every path alike, with a bounded number of calls. Then the
// throughput of -clients concurrent HTTP clients against bulkguard and
// against the floor, in alternating phases.
//
// Start-up: the time from starting the process to its initialize response,
// and its resident memory (VmRSS) one second later, idle.
//
// It is run by bench/run-overhead.sh, which builds both binaries; see
// bench/README.md. With -write it rewrites its sections of results.md.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/bulkguard/bulkguard/bench/internal/bare"
	"github.com/bulkguard/bulkguard/bench/internal/report"
)

type config struct {
	bin      string
	baseline string // another bulkguard binary measured alongside (e.g. the previous commit)
	calls    int
	warmup   int
	rounds   int
	startups int
	leads    int
	eras     []string
	write    string
	self     string
	latency  time.Duration
	// Throughput: clients concurrent HTTP sessions per server, phases
	// alternating between bulkguard and the floor, each phase long.
	clients int
	phases  int
	phase   time.Duration
}

func main() {
	var (
		c        config
		era      string
		bareMode string
		target   string
		key      string
	)
	flag.StringVar(&c.bin, "bin", "", "path of the bulkguard binary to measure (required)")
	flag.StringVar(&c.baseline, "baseline", "", "another bulkguard binary (e.g. built from an earlier commit) measured in the same run, for before/after figures")
	baselineName := flag.String("baseline-name", "", "what to call the -baseline binary in the tables (e.g. its commit)")
	flag.IntVar(&c.calls, "calls", 2000, "measured calls per path and era")
	flag.IntVar(&c.warmup, "warmup", 200, "unmeasured calls per path and era before the first round")
	flag.IntVar(&c.rounds, "rounds", 20, "rounds the calls are interleaved in")
	flag.IntVar(&c.startups, "startups", 15, "process starts measured per configuration")
	flag.IntVar(&c.leads, "leads", 2000, "leads in the sandbox")
	flag.DurationVar(&c.latency, "latency", 0, "latency the sandbox adds to every answer (its --latency), to see the ratios against a Close that is a network away; 0 = none")
	flag.IntVar(&c.clients, "clients", 50, "concurrent HTTP clients of the throughput measurement (0: skip it)")
	flag.IntVar(&c.phases, "phases", 6, "throughput phases per server, alternating bulkguard and the floor")
	flag.DurationVar(&c.phase, "phase", 2*time.Second, "length of one throughput phase")
	flag.StringVar(&era, "era", "both", "protocol era of the MCP clients: legacy (2025-11-25, initialize), modern (2026-07-28, server/discover) or both")
	flag.StringVar(&c.write, "write", "", "results.md to rewrite the overhead and startup sections of (empty: print only)")
	flag.StringVar(&bareMode, "serve-bare", "", "internal: serve the bare mcp-go server on stdio or http")
	flag.StringVar(&target, "target", "", "internal: the sandbox API base URL for -serve-bare")
	flag.StringVar(&key, "key", "", "internal: the sandbox API key for -serve-bare")
	flag.Parse()
	if *baselineName != "" {
		baselinePath = "bulkguard " + *baselineName + " (baseline) get_bulk_delete"
	}

	if bareMode != "" {
		if err := serveBare(bareMode, target, key); err != nil {
			fmt.Fprintln(os.Stderr, "overhead:", err)
			os.Exit(1)
		}
		return
	}
	switch era {
	case "legacy", "modern":
		c.eras = []string{era}
	case "both":
		c.eras = []string{"legacy", "modern"}
	default:
		fmt.Fprintf(os.Stderr, "overhead: -era must be legacy, modern or both, not %q\n", era)
		os.Exit(2)
	}
	if c.bin == "" || c.calls < 1 || c.rounds < 1 || c.warmup < 0 || c.startups < 0 || c.calls < c.rounds ||
		c.clients < 0 || c.phases < 1 || c.phase <= 0 {
		fmt.Fprintln(os.Stderr, "overhead: -bin is required; -calls, -rounds, -phases and -phase must be positive, -calls at least -rounds")
		flag.Usage()
		os.Exit(2)
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
	c.self = self
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "overhead:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	tmp, err := os.MkdirTemp("", "bulkguard-overhead-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ov, err := measureOverhead(c, tmp)
	if err != nil {
		return err
	}
	fmt.Println(ov)
	st, err := measureStartup(c, tmp)
	if err != nil {
		return err
	}
	if st != "" {
		fmt.Println(st)
	}
	if c.write != "" {
		machine := "Measured " + report.Machine(time.Now()) + " by `bash bench/run-overhead.sh`.\n\n"
		// A run with sandbox latency is a different experiment: it gets
		// its own section and leaves the loopback figures alone.
		section := "overhead"
		if c.latency > 0 {
			section = "overhead-with-latency"
		}
		if err := report.ReplaceSection(c.write, section, machine+ov); err != nil {
			return err
		}
		if c.startups > 0 {
			if err := report.ReplaceSection(c.write, "startup", machine+st); err != nil {
				return err
			}
		}
		fmt.Fprintln(os.Stderr, "overhead: wrote", c.write)
	}
	return nil
}

// sandboxKey is the key of the sandbox we start (its documented demo key).
const sandboxKey = "sandbox-demo-key"

var (
	baseURLLine = regexp.MustCompile(`base URL:\s+(\S+)`)
	bareAddr    = regexp.MustCompile(`^listening (\S+)$`)
)

// startSandbox runs `bulkguard sandbox` on a free loopback port with the
// rate limit off (the benchmark sends far more than 20 requests/s) and an
// unlimited delete rate, and returns it with its API base URL.
func startSandbox(c config) (*proc, string, error) {
	p, err := spawn("sandbox", c.bin, []string{"sandbox", "--listen", "127.0.0.1:0", "--rate-limit", "0",
		"--delete-rate", "0", "--leads", fmt.Sprint(c.leads), "--latency", c.latency.String(), "--log-level", "warn"}, cleanEnv())
	if err != nil {
		return nil, "", err
	}
	p.termOnly = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base, err := p.stderr.waitFor(ctx, p, baseURLLine)
	if err != nil {
		p.stop()
		return nil, "", err
	}
	return p, base, nil
}

// bulkguardArgs are the serve flags every bulkguard we start gets: the
// external sandbox as Close, and an audit log of its own.
func bulkguardArgs(base, tmp, name string, extra ...string) []string {
	return append([]string{"serve", "--close-url", base, "--audit-log", filepath.Join(tmp, name+"-audit.jsonl")}, extra...)
}

func bulkguardEnv(tmp string) []string {
	return cleanEnv("CLOSE_API_KEY="+sandboxKey, "XDG_STATE_HOME="+filepath.Join(tmp, "state"))
}

// createJob makes the job every get reads: a preview of the sandbox's junk
// leads and a create confirmed with the phrase (this client has no
// elicitation handler, so bulkguard takes the phrase path).
func createJob(ctx context.Context, c *mcp.ClientSession) (string, error) {
	query := map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "field_condition",
			"field":     map[string]any{"type": "regular_field", "object_type": "lead", "field_name": "name"},
			"condition": map[string]any{"type": "text", "mode": "full_words", "value": "test"}},
	}}
	res, err := callTool(ctx, c, "preview_bulk_delete", map[string]any{"s_query": query, "sample_size": 3})
	if err != nil {
		return "", err
	}
	var p struct {
		PlanID             string `json:"plan_id"`
		Executable         bool   `json:"executable"`
		Total              int    `json:"total"`
		ConfirmationPhrase string `json:"confirmation_phrase"`
	}
	if err := remarshal(res.StructuredContent, &p); err != nil {
		return "", err
	}
	if !p.Executable || p.Total == 0 {
		return "", fmt.Errorf("the preview is not executable: %+v", p)
	}
	res, err = callTool(ctx, c, "create_bulk_delete", map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase})
	if err != nil {
		return "", err
	}
	var j struct {
		Job struct {
			ID string `json:"id"`
		} `json:"job"`
	}
	if err := remarshal(res.StructuredContent, &j); err != nil {
		return "", err
	}
	if j.Job.ID == "" {
		return "", errors.New("create returned no job id")
	}
	return j.Job.ID, nil
}

func newToken() string {
	return rand.Text() // 26 base32 characters, 130 bits
}

// Path names; floorPath is what the goal compares bulkguard with.
const (
	bulkguardPath = "bulkguard get_bulk_delete"
	floorPath     = "floor: bare mcp-go, same GET"
	noopPath      = "bare mcp-go, noop tool"
	directPath    = "direct GET to the sandbox"
)

// baselinePath names the -baseline binary's path: "bulkguard <name>
// (baseline) get_bulk_delete".
var baselinePath = "baseline bulkguard get_bulk_delete"

// path is one way of reading the job, measured.
type path struct {
	name, transport, era string
	call                 func(ctx context.Context) error
	lat                  []time.Duration
	server               *proc // the process serving only this path, for CPU per call
	cpu                  time.Duration
	rss, hwm             int64 // the server's memory after the run
}

// bulkguardServers is one bulkguard binary serving an era over stdio and
// over HTTP, with a session on each.
type bulkguardServers struct {
	stdio, http *proc
	cs, ch      *mcp.ClientSession
	url, token  string
}

// httpTarget is an HTTP server the throughput phases load.
type httpTarget struct {
	name, url, token string
	tool             string
	args             map[string]any
	calls            []int           // completed calls per phase
	elapsed          []time.Duration // length of each phase as run
	errs             int
}

type measured struct {
	paths    []*path
	sandbox  *proc
	sbCPU    time.Duration
	sbGETs   int
	wall     time.Duration
	calls    int
	jobID    string
	latency  time.Duration
	bareSize int64
	binSize  int64
	tput     []*httpTarget // floor first
	clients  int
	tputEra  string
}

func measureOverhead(c config, tmp string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	sb, base, err := startSandbox(c)
	if err != nil {
		return "", err
	}
	defer sb.stop()
	fmt.Fprintf(os.Stderr, "overhead: sandbox at %s (%d leads, rate limit off, latency %s)\n", base, c.leads, c.latency)

	var procs []*proc
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	start := func(name, bin string, args, env []string) (*proc, error) {
		p, err := spawn(name, bin, args, env)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}
	var sessions []*mcp.ClientSession
	defer func() {
		for _, s := range sessions {
			_ = s.Close()
		}
	}()

	m := &measured{sandbox: sb, calls: c.calls, latency: c.latency, clients: c.clients}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: newHTTPTransport(c.clients)}
	var jobID string

	for _, era := range c.eras {
		// bulkguard over stdio (one process per era: a stdio server has one
		// session) and over streamable HTTP with a bearer token.
		startBulkguard := func(bin, label string) (*bulkguardServers, error) {
			bs := &bulkguardServers{}
			var err error
			bs.stdio, err = start(label+" stdio "+era, bin, bulkguardArgs(base, tmp, label+"-stdio-"+era), bulkguardEnv(tmp))
			if err != nil {
				return nil, err
			}
			if bs.cs, err = stdioClient(ctx, bs.stdio, era); err != nil {
				return nil, fmt.Errorf("%w; stderr:\n%s", err, bs.stdio.stderr)
			}
			sessions = append(sessions, bs.cs)
			bs.token = newToken()
			bs.http, err = start(label+" http "+era, bin, bulkguardArgs(base, tmp, label+"-http-"+era,
				"--transport", "http", "--listen", "127.0.0.1:0", "--http-token", bs.token, "--log-format", "json"), bulkguardEnv(tmp))
			if err != nil {
				return nil, err
			}
			bs.http.termOnly = true
			addr, err := bs.http.stderr.waitFor(ctx, bs.http, regexp.MustCompile(`"msg":"listening".*"addr":"([^"]+)"`))
			if err != nil {
				return nil, err
			}
			bs.url = "http://" + addr + "/mcp"
			if bs.ch, err = httpClient(ctx, hc, bs.url, bs.token, era); err != nil {
				return nil, fmt.Errorf("%w; stderr:\n%s", err, bs.http.stderr)
			}
			sessions = append(sessions, bs.ch)
			return bs, nil
		}
		bg, err := startBulkguard(c.bin, "bulkguard")
		if err != nil {
			return "", err
		}
		var baseline *bulkguardServers
		if c.baseline != "" {
			if baseline, err = startBulkguard(c.baseline, "baseline"); err != nil {
				return "", err
			}
		}
		if jobID == "" {
			if jobID, err = createJob(ctx, bg.cs); err != nil {
				return "", fmt.Errorf("create the job to read: %w", err)
			}
			m.jobID = jobID
			fmt.Fprintf(os.Stderr, "overhead: reading job %s\n", jobID)
		}
		bgArgs := map[string]any{"id": jobID}

		// The bare server, on stdio and on HTTP: one process per tool, so
		// that each path's server CPU is its own.
		bareArgs := func(mode string) []string {
			return []string{"-serve-bare", mode, "-target", base, "-key", sandboxKey}
		}
		bareSessions := map[string]*mcp.ClientSession{}
		bareProcs := map[string]*proc{}
		var floorURL string
		for _, tool := range []string{bare.Noop, bare.Get} {
			ps, err := start("bare stdio "+tool+" "+era, c.self, bareArgs("stdio"), cleanEnv())
			if err != nil {
				return "", err
			}
			cl, err := stdioClient(ctx, ps, era)
			if err != nil {
				return "", err
			}
			sessions = append(sessions, cl)
			bareSessions["stdio "+tool], bareProcs["stdio "+tool] = cl, ps

			ph, err := start("bare http "+tool+" "+era, c.self, bareArgs("http"), cleanEnv())
			if err != nil {
				return "", err
			}
			addr, err := ph.stderr.waitFor(ctx, ph, bareAddr)
			if err != nil {
				return "", err
			}
			cl, err = httpClient(ctx, hc, "http://"+addr+"/mcp", "", era)
			if err != nil {
				return "", err
			}
			sessions = append(sessions, cl)
			bareSessions["HTTP "+tool], bareProcs["HTTP "+tool] = cl, ph
			if tool == bare.Get {
				floorURL = "http://" + addr + "/mcp"
			}
		}
		if m.tput == nil && c.clients > 0 {
			m.tputEra = era
			m.tput = []*httpTarget{
				{name: floorPath, url: floorURL, tool: bare.Get, args: bgArgs},
				{name: bulkguardPath, url: bg.url, token: bg.token, tool: "get_bulk_delete", args: bgArgs},
			}
			if baseline != nil {
				m.tput = append(m.tput, &httpTarget{name: baselinePath, url: baseline.url, token: baseline.token, tool: "get_bulk_delete", args: bgArgs})
			}
		}

		get := func(cl *mcp.ClientSession, tool string, args map[string]any) func(context.Context) error {
			return func(ctx context.Context) error {
				_, err := callTool(ctx, cl, tool, args)
				return err
			}
		}
		for _, tr := range []string{"stdio", "HTTP"} {
			m.paths = append(m.paths,
				&path{name: noopPath, transport: tr, era: era,
					call: get(bareSessions[tr+" "+bare.Noop], bare.Noop, map[string]any{}), server: bareProcs[tr+" "+bare.Noop]},
				&path{name: floorPath, transport: tr, era: era,
					call: get(bareSessions[tr+" "+bare.Get], bare.Get, bgArgs), server: bareProcs[tr+" "+bare.Get]},
			)
		}
		m.paths = append(m.paths,
			&path{name: bulkguardPath, transport: "stdio", era: era, call: get(bg.cs, "get_bulk_delete", bgArgs), server: bg.stdio},
			&path{name: bulkguardPath, transport: "HTTP", era: era, call: get(bg.ch, "get_bulk_delete", bgArgs), server: bg.http},
		)
		if baseline != nil {
			m.paths = append(m.paths,
				&path{name: baselinePath, transport: "stdio", era: era, call: get(baseline.cs, "get_bulk_delete", bgArgs), server: baseline.stdio},
				&path{name: baselinePath, transport: "HTTP", era: era, call: get(baseline.ch, "get_bulk_delete", bgArgs), server: baseline.http},
			)
		}
	}
	direct := &path{name: directPath, transport: "HTTP", era: "—", call: func(ctx context.Context) error {
		_, err := bare.GetJob(ctx, hc, base, sandboxKey, jobID)
		return err
	}}
	m.paths = append([]*path{direct}, m.paths...)

	// Check every path once and warm it up (connections, caches and the
	// allocator), unmeasured.
	for _, p := range m.paths {
		for i := 0; i < max(c.warmup, 1); i++ {
			if err := p.call(ctx); err != nil {
				return "", fmt.Errorf("%s (%s, %s): %w", p.name, p.transport, p.era, err)
			}
		}
	}

	cpu0 := map[*proc]time.Duration{}
	for _, p := range append(procs, sb) {
		if v, err := p.cpu(); err == nil {
			cpu0[p] = v
		}
	}
	per := c.calls / c.rounds
	t0 := time.Now()
	for r := 0; r < c.rounds; r++ {
		// Rotate the order each round so no path always follows another.
		for k := range m.paths {
			p := m.paths[(k+r)%len(m.paths)]
			for i := 0; i < per; i++ {
				s := time.Now()
				if err := p.call(ctx); err != nil {
					return "", fmt.Errorf("%s (%s, %s): %w", p.name, p.transport, p.era, err)
				}
				p.lat = append(p.lat, time.Since(s))
			}
		}
		fmt.Fprintf(os.Stderr, "\roverhead: round %d/%d", r+1, c.rounds)
	}
	fmt.Fprintln(os.Stderr)
	m.wall = time.Since(t0)
	for _, p := range m.paths {
		if p.server != nil {
			if v, err := p.server.cpu(); err == nil {
				p.cpu = v - cpu0[p.server]
			}
			rss, _ := p.server.status("VmRSS")
			hwm, _ := p.server.status("VmHWM")
			p.rss, p.hwm = rss, hwm
		}
	}
	if v, err := sb.cpu(); err == nil {
		m.sbCPU = v - cpu0[sb]
	}
	for _, p := range m.paths {
		if p.name != noopPath {
			m.sbGETs += len(p.lat)
		}
	}
	if fi, err := os.Stat(c.bin); err == nil {
		m.binSize = fi.Size()
	}
	if fi, err := os.Stat(c.self); err == nil {
		m.bareSize = fi.Size()
	}
	if len(m.tput) > 0 {
		if err := measureThroughput(ctx, c, m.tputEra, m.tput); err != nil {
			return "", err
		}
	}
	return m.render(), nil
}

// measureThroughput opens c.clients sessions to each target, then runs
// phases of c.phase in which every session calls the tool in a loop, one
// call in flight per session; the phases alternate between the targets, so
// that load from elsewhere on the machine falls on both alike. A first,
// unmeasured phase per target warms the connections up.
func measureThroughput(ctx context.Context, c config, era string, targets []*httpTarget) error {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: newHTTPTransport(c.clients)}
	defer hc.CloseIdleConnections()
	sessions := make([][]*mcp.ClientSession, len(targets))
	defer func() {
		for _, ss := range sessions {
			for _, s := range ss {
				_ = s.Close()
			}
		}
	}()
	for i, t := range targets {
		for range c.clients {
			s, err := httpClient(ctx, hc, t.url, t.token, era)
			if err != nil {
				return fmt.Errorf("throughput, %s: %w", t.name, err)
			}
			sessions[i] = append(sessions[i], s)
		}
	}
	phase := func(i int, d time.Duration) (int, time.Duration, int) {
		t := targets[i]
		var done, errs atomic.Int64
		pctx, cancel := context.WithCancel(ctx)
		defer cancel()
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(d)
		for _, s := range sessions[i] {
			wg.Go(func() {
				for time.Now().Before(deadline) {
					if _, err := callTool(pctx, s, t.tool, t.args); err != nil {
						errs.Add(1)
						continue
					}
					done.Add(1)
				}
			})
		}
		wg.Wait()
		return int(done.Load()), time.Since(start), int(errs.Load())
	}
	for i := range targets {
		phase(i, c.phase/2)
	}
	for r := range c.phases {
		for k := range targets {
			i := (k + r) % len(targets)
			n, el, errs := phase(i, c.phase)
			targets[i].calls = append(targets[i].calls, n)
			targets[i].elapsed = append(targets[i].elapsed, el)
			targets[i].errs += errs
		}
		fmt.Fprintf(os.Stderr, "\roverhead: throughput phase %d/%d", r+1, c.phases)
	}
	fmt.Fprintln(os.Stderr)
	return nil
}

// rate is calls per second over all phases of t.
func (t *httpTarget) rate() float64 {
	var n int
	var d time.Duration
	for i := range t.calls {
		n += t.calls[i]
		d += t.elapsed[i]
	}
	if d == 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// phaseRates are the calls per second of each phase, sorted.
func (t *httpTarget) phaseRates() []float64 {
	var r []float64
	for i := range t.calls {
		r = append(r, float64(t.calls[i])/t.elapsed[i].Seconds())
	}
	slices.Sort(r)
	return r
}

func (m *measured) render() string {
	var b strings.Builder
	direct := report.Summarize(m.paths[0].lat)
	fmt.Fprintf(&b, "%d measured calls per path, interleaved in rotating rounds, sequential (one call in flight), after a warm-up; "+
		"client, servers and the sandbox share the machine's CPUs. Every call reads the same job (%s) of an external "+
		"`bulkguard sandbox` (rate limit off). MCP client: the official Go SDK (modelcontextprotocol/go-sdk v1.8.0) for every path; "+
		"legacy = protocol 2025-11-25 (initialize), modern = 2026-07-28 (server/discover). "+
		"The floor is a bare mcp-go v1.2.1 server (bench/internal/bare) whose tool sends the same GET and returns the body as text. "+
		"Latencies in µs.", m.calls, m.jobID)
	if m.latency > 0 {
		fmt.Fprintf(&b, " The sandbox adds %s to every answer (--latency), standing in for the network between bulkguard and Close.", m.latency)
	}
	b.WriteString("\n\n")
	b.WriteString("| path | transport | era | median | p90 | p99 | mean | median × direct | p99 × direct |\n")
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|\n")
	sums := map[string]report.Summary{}
	for _, p := range m.paths {
		s := report.Summarize(p.lat)
		sums[p.name+"|"+p.transport+"|"+p.era] = s
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", p.name, p.transport, p.era,
			report.Micros(s.Median), report.Micros(s.P90), report.Micros(s.P99), report.Micros(s.Mean),
			ratio(s.Median, direct.Median), ratio(s.P99, direct.P99))
	}
	directGoal := ""
	if m.latency > 0 {
		directGoal = " (goal ≤ 1.05×)"
	}
	b.WriteString("\nbulkguard ÷ floor, same transport and era (median / p90 / mean / p99):\n\n")
	fmt.Fprintf(&b, "| server | transport | era | median | floor median | **÷ floor, median** (goal ≤ 1.10×) | ÷ floor, p90 | ÷ floor, mean | ÷ floor, p99 | bulkguard × direct, median%s | library floor (noop), median |\n", directGoal)
	b.WriteString("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, p := range m.paths {
		if p.name != bulkguardPath && p.name != baselinePath {
			continue
		}
		bg := sums[p.name+"|"+p.transport+"|"+p.era]
		fl := sums[floorPath+"|"+p.transport+"|"+p.era]
		noop := sums[noopPath+"|"+p.transport+"|"+p.era]
		fmt.Fprintf(&b, "| %s | %s | %s | %s µs | %s µs | **%s** | %s | %s | %s | %s | %s µs |\n", p.name, p.transport, p.era,
			report.Micros(bg.Median), report.Micros(fl.Median),
			ratio(bg.Median, fl.Median), ratio(bg.P90, fl.P90), ratio(bg.Mean, fl.Mean), ratio(bg.P99, fl.P99),
			ratio(bg.Median, direct.Median), report.Micros(noop.Median))
	}
	if len(m.tput) >= 2 && m.tput[0].rate() > 0 {
		fl := m.tput[0]
		fmt.Fprintf(&b, "\nThroughput over streamable HTTP (%s era): %d concurrent go-sdk sessions per server, each with one call in flight, "+
			"in %d alternating phases of %s per server:\n\n", m.tputEra, m.clients, len(fl.calls), fl.elapsed[0].Round(100*time.Millisecond))
		b.WriteString("| server | calls/s (all phases) | ÷ floor (goal ≥ 90%) | slowest phase | fastest phase | failed calls |\n|---|---:|---:|---:|---:|---:|\n")
		for _, t := range m.tput {
			r := t.phaseRates()
			fmt.Fprintf(&b, "| %s | %.0f | **%.0f%%** | %.0f | %.0f | %d |\n", t.name, t.rate(), 100*t.rate()/fl.rate(), r[0], r[len(r)-1], t.errs)
		}
	}
	b.WriteString("\nServer processes over the measured sequential calls: CPU per call (user + system from /proc/<pid>/stat, 10 ms ticks; " +
		"includes the Go runtime's wake-ups and syscalls, not only the handler) and memory after the run:\n\n")
	b.WriteString("| server | transport | era | CPU per call | VmRSS | VmHWM |\n|---|---|---|---:|---:|---:|\n")
	for _, p := range m.paths {
		if p.server == nil {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s µs | %s | %s |\n", p.name, p.transport, p.era,
			report.Micros(p.cpu/time.Duration(max(len(p.lat), 1))), mib(p.rss), mib(p.hwm))
	}
	if m.sbGETs > 0 {
		fmt.Fprintf(&b, "\nThe sandbox used %s µs of CPU per GET it served (%d GETs). Wall time of the measured rounds: %.1f s. "+
			"Binary sizes: bulkguard %s, the bare server (this program) %s.\n",
			report.Micros(m.sbCPU/time.Duration(m.sbGETs)), m.sbGETs, m.wall.Seconds(), mib(m.binSize), mib(m.bareSize))
	}
	return b.String()
}

func ratio(a, b time.Duration) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
