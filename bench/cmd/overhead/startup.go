package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/bench/internal/report"
)

// idleWait is how long a started server sits idle before its memory is
// read: long enough for start-up garbage to be collected and the sandbox's
// seeding to settle.
const idleWait = time.Second

type startConfig struct {
	name string
	bin  string
	args []string
	env  []string
}

type startResult struct {
	lat      []time.Duration
	rss, hwm []int64
	firstErr error
	starts   int
}

// measureStartup starts each configuration c.startups times, one at a
// time: the time from exec to the initialize response (legacy era: the
// initialize handshake is what a client waits for today), then VmRSS and
// VmHWM after idleWait, then a clean exit on stdin EOF.
func measureStartup(c config, tmp string) (string, error) {
	if c.startups == 0 {
		return "", nil
	}
	sb, base, err := startSandbox(c)
	if err != nil {
		return "", err
	}
	defer sb.stop()
	configs := []startConfig{
		{"bulkguard, stdio, Close = external sandbox (CLOSE_API_KEY set)", c.bin, bulkguardArgs(base, tmp, "startup"), bulkguardEnv(tmp)},
		{"bulkguard, stdio, built-in sandbox (`go run .`, 2,000 demo leads)", c.bin,
			[]string{"serve", "--audit-log", tmp + "/startup-builtin-audit.jsonl"}, cleanEnv("XDG_STATE_HOME=" + tmp + "/state")},
		{"bare mcp-go server, stdio (floor)", c.self, []string{"-serve-bare", "stdio", "-target", base, "-key", sandboxKey}, cleanEnv()},
	}
	results := make([]startResult, len(configs))
	for i := 0; i < c.startups; i++ {
		for k, sc := range configs {
			d, rss, hwm, err := startOnce(sc)
			r := &results[k]
			r.starts++
			if err != nil {
				if r.firstErr == nil {
					r.firstErr = err
				}
				continue
			}
			r.lat = append(r.lat, d)
			r.rss = append(r.rss, rss)
			r.hwm = append(r.hwm, hwm)
		}
		fmt.Fprintf(os.Stderr, "\rstartup: %d/%d", i+1, c.startups)
	}
	fmt.Fprintln(os.Stderr)

	var b strings.Builder
	fmt.Fprintf(&b, "%d starts per configuration, one at a time. Start-up = exec of the process → initialize response "+
		"(legacy era; stdio pipes). Idle memory read from /proc/<pid>/status %s after the response.\n\n", c.startups, idleWait)
	b.WriteString("| configuration | start-up median | p90 | min | idle VmRSS (median) | VmHWM (median) |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|\n")
	for k, sc := range configs {
		r := results[k]
		if r.firstErr != nil {
			return "", fmt.Errorf("start-up of %s failed: %w", sc.name, r.firstErr)
		}
		s := report.Summarize(r.lat)
		fmt.Fprintf(&b, "| %s | %s ms | %s ms | %s ms | %s | %s |\n", sc.name,
			report.Millis(s.Median), report.Millis(s.P90), report.Millis(s.Min), mib(median(r.rss)), mib(median(r.hwm)))
	}
	return b.String(), nil
}

func startOnce(sc startConfig) (time.Duration, int64, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p, err := spawn(sc.name, sc.bin, sc.args, sc.env)
	if err != nil {
		return 0, 0, 0, err
	}
	defer p.stop()
	cl, err := stdioClient(ctx, p, "legacy")
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%w; stderr:\n%s", err, p.stderr)
	}
	d := time.Since(p.started)
	defer cl.Close()
	time.Sleep(idleWait)
	if done, werr := p.exited(); done {
		return 0, 0, 0, fmt.Errorf("%s exited while idle: %v", sc.name, werr)
	}
	rss, err := p.status("VmRSS")
	if err != nil {
		return 0, 0, 0, err
	}
	hwm, err := p.status("VmHWM")
	if err != nil {
		return 0, 0, 0, err
	}
	return d, rss, hwm, nil
}

func median(v []int64) int64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}
