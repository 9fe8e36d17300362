package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
)

// proc is a child process we started: its pipes, a tail of its stderr that
// can be waited on, and when it was started.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  io.ReadCloser
	stderr  *tail
	started time.Time
	// termOnly: the process does not end on stdin EOF (HTTP servers), so
	// stop signals it at once.
	termOnly bool
	done     chan struct{}
	waitErr  error
}

// spawn starts bin with args and env. stdin and stdout are pipes (the
// stdio transport), stderr is kept in a bounded tail.
func spawn(name, bin string, args, env []string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, stdin: stdin, stdout: stdout, stderr: newTail(), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process: stdin closed (the stdio servers exit on EOF), then
// SIGTERM, then SIGKILL, each after a grace period. Only this process is
// signalled, by its pid.
func (p *proc) stop() {
	_ = p.stdin.Close()
	for _, step := range []struct {
		sig   syscall.Signal
		grace time.Duration
	}{{0, 3 * time.Second}, {syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}} {
		if step.sig == 0 && p.termOnly {
			continue
		}
		if step.sig != 0 {
			_ = p.cmd.Process.Signal(step.sig)
		}
		select {
		case <-p.done:
			return
		case <-time.After(step.grace):
		}
	}
}

// exited reports whether the process has ended, and how.
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// status reads one "Key: value kB" line of /proc/<pid>/status in bytes.
func (p *proc) status(key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, err
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		return n, nil
	}
	return 0, fmt.Errorf("%s: no %s in /proc/%d/status", p.name, key, p.cmd.Process.Pid)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// It is 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpu is the CPU time (user + system) the process has used so far.
func (p *proc) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14 and
	// 15, so the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/pid/stat format")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short /proc/pid/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unparsable utime/stime")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// tail keeps the last lines a process wrote to stderr (bounded, so a
// chatty child can neither block on a full pipe nor grow our memory) and
// lets callers wait for a line matching a pattern.
type tail struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{}
}

const tailLines = 200

func newTail() *tail { return &tail{changed: make(chan struct{})} }

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, b...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.lines = append(t.lines, string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > 64<<10 {
		t.partial = t.partial[len(t.partial)-(64<<10):]
	}
	if over := len(t.lines) - tailLines; over > 0 {
		t.lines = append([]string(nil), t.lines[over:]...)
	}
	close(t.changed)
	t.changed = make(chan struct{})
	return len(b), nil
}

// waitTimeout bounds every wait for a line a child prints when it is ready
// (seeding the largest sandbox takes well under it).
const waitTimeout = 2 * time.Minute

// waitFor returns the first submatch of re in a stderr line, waiting until
// one appears, the process exits, waitTimeout passes or ctx ends.
func (t *tail) waitFor(ctx context.Context, p *proc, re *regexp.Regexp) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	for {
		t.mu.Lock()
		for _, l := range t.lines {
			if m := re.FindStringSubmatch(l); m != nil {
				t.mu.Unlock()
				return m[1], nil
			}
		}
		ch := t.changed
		t.mu.Unlock()
		select {
		case <-ch:
		case <-p.done:
			return "", fmt.Errorf("%s exited (%v) before writing %q; stderr:\n%s", p.name, p.waitErr, re, t.String())
		case <-ctx.Done():
			return "", fmt.Errorf("%s: no %q on stderr: %w; stderr:\n%s", p.name, re, ctx.Err(), t.String())
		}
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}

// cleanEnv is our environment minus anything that would configure the
// children behind the benchmark's back (a developer's CLOSE_API_KEY or
// BULKGUARD_* settings), plus extra.
func cleanEnv(extra ...string) []string { return testkit.Environ(extra...) }
