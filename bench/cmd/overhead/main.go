// Command overhead measures what bulkguard adds to one Close call, and how
// fast it starts.
//
// Overhead: the median and p99 latency of get_bulk_delete through the
// bulkguard binary over stdio and over streamable HTTP, against the same GET
// sent straight to the sandbox, and against a bare mcp-go server built here
// (a "noop" tool: the library floor; a "get" tool doing the same GET: the
// floor of any MCP proxy of one Close read). Everything runs in one process
// tree on loopback, interleaved in rounds so that drift (thermal, other
// load) falls on every path alike, with a bounded number of calls.
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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bulkguard/bulkguard/bench/internal/bare"
	"github.com/bulkguard/bulkguard/bench/internal/report"
)

type config struct {
	bin      string
	calls    int
	warmup   int
	rounds   int
	startups int
	leads    int
	eras     []string
	write    string
	self     string
	latency  time.Duration
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
	flag.IntVar(&c.calls, "calls", 2000, "measured calls per path and era")
	flag.IntVar(&c.warmup, "warmup", 200, "unmeasured calls per path and era before the first round")
	flag.IntVar(&c.rounds, "rounds", 20, "rounds the calls are interleaved in")
	flag.IntVar(&c.startups, "startups", 15, "process starts measured per configuration")
	flag.IntVar(&c.leads, "leads", 2000, "leads in the sandbox")
	flag.DurationVar(&c.latency, "latency", 0, "latency the sandbox adds to every answer (its --latency), to see the ratios against a Close that is a network away; 0 = none")
	flag.StringVar(&era, "era", "both", "protocol era of the MCP clients: legacy (2025-11-25, initialize), modern (2026-07-28, server/discover) or both")
	flag.StringVar(&c.write, "write", "", "results.md to rewrite the overhead and startup sections of (empty: print only)")
	flag.StringVar(&bareMode, "serve-bare", "", "internal: serve the bare mcp-go server on stdio or http")
	flag.StringVar(&target, "target", "", "internal: the sandbox API base URL for -serve-bare")
	flag.StringVar(&key, "key", "", "internal: the sandbox API key for -serve-bare")
	flag.Parse()

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
	if c.bin == "" || c.calls < 1 || c.rounds < 1 || c.warmup < 0 || c.startups < 0 || c.calls < c.rounds {
		fmt.Fprintln(os.Stderr, "overhead: -bin is required; -calls and -rounds must be positive, -calls at least -rounds")
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

func clientOptions(era string) []client.ClientOption {
	if era == "legacy" {
		return []client.ClientOption{client.WithProtocolVersion(mcp.ProtocolVersion20251125)}
	}
	return nil // the client's default: the modern era, server/discover
}

// initialize connects c and checks the era it negotiated.
func initialize(ctx context.Context, c *client.Client, era string) error {
	if err := c.Start(ctx); err != nil {
		return fmt.Errorf("client start: %w", err)
	}
	res, err := c.Initialize(ctx, mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "bulkguard-overhead", Version: "1"},
	}})
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if modern := mcp.IsModernProtocol(res.ProtocolVersion); modern != (era == "modern") {
		return fmt.Errorf("negotiated %s, wanted the %s era", res.ProtocolVersion, era)
	}
	return nil
}

// stdioClient speaks MCP over the process's stdin and stdout.
func stdioClient(ctx context.Context, p *proc, era string) (*client.Client, error) {
	c := client.NewClient(transport.NewIO(p.stdout, p.stdin, io.NopCloser(strings.NewReader(""))), clientOptions(era)...)
	if err := initialize(ctx, c, era); err != nil {
		return nil, fmt.Errorf("%s: %w", p.name, err)
	}
	return c, nil
}

// httpClient speaks streamable HTTP to url, with a bearer token if given.
func httpClient(ctx context.Context, url, token, era string) (*client.Client, error) {
	var opts []transport.StreamableHTTPCOption
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	tr, err := transport.NewStreamableHTTP(url, opts...)
	if err != nil {
		return nil, err
	}
	c := client.NewClient(tr, clientOptions(era)...)
	if err := initialize(ctx, c, era); err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return c, nil
}

func callTool(ctx context.Context, c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return nil, err
	}
	if res.IsError {
		var text []string
		for _, ct := range res.Content {
			if t, ok := ct.(mcp.TextContent); ok {
				text = append(text, t.Text)
			}
		}
		return nil, fmt.Errorf("%s: isError: %s", name, strings.Join(text, " "))
	}
	return res, nil
}

// createJob makes the job every get reads: a preview of the sandbox's junk
// leads and a create confirmed with the phrase (this client has no
// elicitation handler, so bulkguard takes the phrase path).
func createJob(ctx context.Context, c *client.Client) (string, error) {
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

func remarshal(in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

func newToken() string {
	return rand.Text() // 26 base32 characters, 130 bits
}

const bulkguardPath = "bulkguard get_bulk_delete"

// path is one way of reading the job, measured.
type path struct {
	name, transport, era string
	call                 func(ctx context.Context) error
	lat                  []time.Duration
	server               *proc // the process serving only this path, for CPU per call
	cpu                  time.Duration
	rss, hwm             int64 // the server's memory after the run
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
	var clients []*client.Client
	defer func() {
		for _, cl := range clients {
			_ = cl.Close()
		}
	}()

	m := &measured{sandbox: sb, calls: c.calls, latency: c.latency}
	hc := &http.Client{Timeout: 30 * time.Second}
	var jobID string

	for _, era := range c.eras {
		// bulkguard over stdio: one process per era (a stdio server has one
		// session).
		bgStdio, err := start("bulkguard stdio "+era, c.bin, bulkguardArgs(base, tmp, "stdio-"+era), bulkguardEnv(tmp))
		if err != nil {
			return "", err
		}
		cs, err := stdioClient(ctx, bgStdio, era)
		if err != nil {
			return "", fmt.Errorf("%w; stderr:\n%s", err, bgStdio.stderr)
		}
		clients = append(clients, cs)
		if jobID == "" {
			if jobID, err = createJob(ctx, cs); err != nil {
				return "", fmt.Errorf("create the job to read: %w", err)
			}
			m.jobID = jobID
			fmt.Fprintf(os.Stderr, "overhead: reading job %s\n", jobID)
		}

		// bulkguard over streamable HTTP with a bearer token.
		token := newToken()
		bgHTTP, err := start("bulkguard http "+era, c.bin, bulkguardArgs(base, tmp, "http-"+era,
			"--transport", "http", "--listen", "127.0.0.1:0", "--http-token", token, "--log-format", "json"), bulkguardEnv(tmp))
		if err != nil {
			return "", err
		}
		bgHTTP.termOnly = true
		addr, err := bgHTTP.stderr.waitFor(ctx, bgHTTP, regexp.MustCompile(`"msg":"listening".*"addr":"([^"]+)"`))
		if err != nil {
			return "", err
		}
		ch, err := httpClient(ctx, "http://"+addr+"/mcp", token, era)
		if err != nil {
			return "", fmt.Errorf("%w; stderr:\n%s", err, bgHTTP.stderr)
		}
		clients = append(clients, ch)

		// The bare server, on stdio and on HTTP: one process per tool, so
		// that each path's server CPU is its own.
		bareArgs := func(mode string) []string {
			return []string{"-serve-bare", mode, "-target", base, "-key", sandboxKey}
		}
		bareClients := map[string]*client.Client{}
		bareProcs := map[string]*proc{}
		for _, tool := range []string{bare.Noop, bare.Get} {
			ps, err := start("bare stdio "+tool+" "+era, c.self, bareArgs("stdio"), cleanEnv())
			if err != nil {
				return "", err
			}
			cl, err := stdioClient(ctx, ps, era)
			if err != nil {
				return "", err
			}
			clients = append(clients, cl)
			bareClients["stdio "+tool], bareProcs["stdio "+tool] = cl, ps

			ph, err := start("bare http "+tool+" "+era, c.self, bareArgs("http"), cleanEnv())
			if err != nil {
				return "", err
			}
			addr, err := ph.stderr.waitFor(ctx, ph, bareAddr)
			if err != nil {
				return "", err
			}
			cl, err = httpClient(ctx, "http://"+addr+"/mcp", "", era)
			if err != nil {
				return "", err
			}
			clients = append(clients, cl)
			bareClients["HTTP "+tool], bareProcs["HTTP "+tool] = cl, ph
		}

		get := func(cl *client.Client, tool string, args map[string]any) func(context.Context) error {
			return func(ctx context.Context) error {
				_, err := callTool(ctx, cl, tool, args)
				return err
			}
		}
		bgArgs := map[string]any{"id": jobID}
		for _, tr := range []string{"stdio", "HTTP"} {
			m.paths = append(m.paths,
				&path{name: "bare mcp-go, noop tool", transport: tr, era: era,
					call: get(bareClients[tr+" "+bare.Noop], bare.Noop, map[string]any{}), server: bareProcs[tr+" "+bare.Noop]},
				&path{name: "bare mcp-go, same GET", transport: tr, era: era,
					call: get(bareClients[tr+" "+bare.Get], bare.Get, bgArgs), server: bareProcs[tr+" "+bare.Get]},
			)
		}
		m.paths = append(m.paths,
			&path{name: bulkguardPath, transport: "stdio", era: era, call: get(cs, "get_bulk_delete", bgArgs), server: bgStdio},
			&path{name: bulkguardPath, transport: "HTTP", era: era, call: get(ch, "get_bulk_delete", bgArgs), server: bgHTTP},
		)
	}
	direct := &path{name: "direct GET to the sandbox", transport: "HTTP", era: "—", call: func(ctx context.Context) error {
		_, err := bare.GetJob(ctx, hc, base, sandboxKey, jobID)
		return err
	}}
	m.paths = append([]*path{direct}, m.paths...)

	// Check every path once and warm it up (connections, JIT-free but
	// cache- and allocator-warm), unmeasured.
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
		if p.name != "bare mcp-go, noop tool" {
			m.sbGETs += len(p.lat)
		}
	}
	if fi, err := os.Stat(c.bin); err == nil {
		m.binSize = fi.Size()
	}
	if fi, err := os.Stat(c.self); err == nil {
		m.bareSize = fi.Size()
	}
	return m.render(), nil
}

func (m *measured) render() string {
	var b strings.Builder
	direct := report.Summarize(m.paths[0].lat)
	fmt.Fprintf(&b, "%d measured calls per path, interleaved in rounds, sequential (one call in flight), after a warm-up; "+
		"client, bulkguard and the sandbox share the machine's CPUs. Every call reads the same job (%s) of an external "+
		"`bulkguard sandbox` (rate limit off). MCP clients: mcp-go v1.2.1; legacy = protocol 2025-11-25 (initialize), "+
		"modern = 2026-07-28 (server/discover). Latencies in µs.", m.calls, m.jobID)
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
	b.WriteString("\nbulkguard against its floors (median / p99):\n\n")
	b.WriteString("| transport | era | bulkguard | × direct GET (goal ≤ 1.5×) | bare mcp-go + same GET | bulkguard − bare (goal ≤ 10%) | bare noop (library floor) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|\n")
	for _, p := range m.paths {
		if p.name != bulkguardPath {
			continue
		}
		bg := sums[bulkguardPath+"|"+p.transport+"|"+p.era]
		bare := sums["bare mcp-go, same GET|"+p.transport+"|"+p.era]
		noop := sums["bare mcp-go, noop tool|"+p.transport+"|"+p.era]
		fmt.Fprintf(&b, "| %s | %s | %s / %s µs | %s / %s | %s / %s µs | %s / %s | %s / %s µs |\n", p.transport, p.era,
			report.Micros(bg.Median), report.Micros(bg.P99), ratio(bg.Median, direct.Median), ratio(bg.P99, direct.P99),
			report.Micros(bare.Median), report.Micros(bare.P99),
			pct(bg.Median, bare.Median), pct(bg.P99, bare.P99),
			report.Micros(noop.Median), report.Micros(noop.P99))
	}
	b.WriteString("\nServer processes over the measured calls: CPU per call (user + system from /proc/<pid>/stat, 10 ms ticks; " +
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

func pct(a, b time.Duration) string {
	if b == 0 {
		return "—"
	}
	v := 100 * (float64(a) - float64(b)) / float64(b)
	return fmt.Sprintf("%+.0f%%", math.Round(v))
}

func mib(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
