package testkit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Lines bulkguard prints when it is ready, each with the address as the
// first submatch.
var (
	// SandboxBaseURL is `bulkguard sandbox`'s "base URL: …/api/v1" line.
	SandboxBaseURL = regexp.MustCompile(`base URL: (http://\S+/api/v1)`)
	// ListeningURL is the streamable-HTTP server's "listening" log line in
	// the text format: its /mcp endpoint.
	ListeningURL = regexp.MustCompile(`url=(http://\S+/mcp)`)
	// ListeningURLJSON is the "listening" log line in the JSON format
	// (--log-format json): its endpoint, /mcp or /sse.
	ListeningURLJSON = regexp.MustCompile(`"msg":"listening".*"url":"([^"]+)"`)
)

// ErrExited is Await's error when the process ended without printing the
// line.
var ErrExited = errors.New("testkit: the process exited")

// Proc is a child process whose stderr is kept for the caller to read and to
// find the lines it prints when it is ready.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	// StopTimeout is how long Stop waits after SIGTERM before it kills the
	// process; 15s when zero.
	StopTimeout time.Duration

	tb    testing.TB // set by StartT: WaitFor fails it
	limit int
	done  chan struct{}

	mu     sync.Mutex
	stderr bytes.Buffer
}

// Start starts cmd with its stderr kept, the first limit bytes of it when
// limit > 0, all of it otherwise. cmd's Stderr must not be set.
func Start(name string, cmd *exec.Cmd, limit int) (*Proc, error) {
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p := &Proc{Name: name, Cmd: cmd, limit: limit, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := pipe.Read(buf)
			p.mu.Lock()
			if p.limit <= 0 || p.stderr.Len() < p.limit {
				p.stderr.Write(buf[:n])
			}
			p.mu.Unlock()
			if err != nil {
				break
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// StartT runs bin with args and env for a test, stderr kept whole (stdin is
// /dev/null and stdout discarded). A failure to start fails tb; the process
// is stopped when the test ends.
func StartT(tb testing.TB, name, bin string, env []string, args ...string) *Proc {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	p, err := Start(name, cmd, 0)
	if err != nil {
		tb.Fatal(err)
	}
	p.tb = tb
	tb.Cleanup(p.Stop)
	return p
}

// Output is everything kept of stderr so far.
func (p *Proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// Done is closed once the process has exited and its stderr is all read.
func (p *Proc) Done() <-chan struct{} { return p.done }

// match returns the submatches of re in the first complete stderr line that
// has them (every line once the process has exited).
func (p *Proc) match(re *regexp.Regexp) []string {
	exited := false
	select {
	case <-p.done:
		exited = true
	default:
	}
	out := p.Output()
	if !exited {
		out = out[:strings.LastIndexByte(out, '\n')+1]
	}
	for _, l := range strings.Split(out, "\n") {
		if m := re.FindStringSubmatch(l); m != nil {
			return m
		}
	}
	return nil
}

// Await returns the submatches of re in the first stderr line matching it,
// waiting for it until ctx ends (ctx's error) or the process exits
// (ErrExited).
func (p *Proc) Await(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	for {
		if m := p.match(re); m != nil {
			return m, nil
		}
		select {
		case <-p.done:
			if m := p.match(re); m != nil {
				return m, nil
			}
			return nil, ErrExited
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitFor is Await for a process started by StartT: it waits up to timeout
// and fails the test with the whole stderr when the line does not come.
func (p *Proc) WaitFor(re *regexp.Regexp, timeout time.Duration) []string {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	m, err := p.Await(ctx, re)
	switch {
	case err == nil:
		return m
	case errors.Is(err, ErrExited):
		p.tb.Fatalf("%s exited before printing %q; stderr:\n%s", p.Name, re, p.Output())
	default:
		p.tb.Fatalf("%s did not print %q within %s; stderr:\n%s", p.Name, re, timeout, p.Output())
	}
	return nil
}

// Stop asks the process to shut down (SIGTERM, which bulkguard handles,
// logging its shutdown) and kills it if it has not exited after
// StopTimeout. Only this process is touched; stopping an exited process
// does nothing.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	wait := p.StopTimeout
	if wait == 0 {
		wait = 15 * time.Second
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}
