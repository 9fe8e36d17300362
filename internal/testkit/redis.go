package testkit

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is one redis-server process. Stop and Start keep its port, so a
// client that reconnects finds the restarted server where the old one was.
type Redis struct {
	t    testing.TB
	bin  string
	dir  string
	args []string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when the running process has been waited for
}

// StartRedis runs a real redis-server for t: its own process on a free
// loopback port, in a temporary directory, with persistence off, stopped
// when t ends. It fails t (never skips) when it cannot start one, so a CI
// without redis-server is red, not silently green. args are added to
// redis-server's own.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	s, err := LaunchRedis(t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	s.t = t
	t.Cleanup(s.Stop)
	return s
}

// LaunchRedis is StartRedis for benchmark commands, which have no
// testing.TB: the server works in dir, and the caller stops it (Restart
// is for tests only). args are added to redis-server's own (e.g.
// "--cluster-enabled", "yes").
func LaunchRedis(dir string, args ...string) (*Redis, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, fmt.Errorf("redis-server is needed and was not found (%v): install it with `apt-get install -y redis-server` (.ci/run does)", err)
	}
	s := &Redis{bin: bin, dir: dir, args: args}
	var last error
	// A free port can be taken by someone else between finding and
	// binding it; a few tries make that race harmless.
	for range 5 {
		if s.port, err = freePort(); err != nil {
			return nil, fmt.Errorf("testkit: find a free port: %w", err)
		}
		if last = s.start(); last == nil {
			return s, nil
		}
	}
	return nil, fmt.Errorf("testkit: could not start redis-server: %w", last)
}

// Addr is host:port.
func (s *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the redis:// URL of database 0.
func (s *Redis) URL() string { return "redis://" + s.Addr() + "/0" }

// Stop kills the server (SIGKILL: as abrupt as a crash) and waits for it.
// Everything it held is gone: persistence is off.
func (s *Redis) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited // its Wait says "signal: killed", which is the point
	s.cmd, s.exited = nil, nil
}

// Restart starts the server again on the same port after Stop.
func (s *Redis) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	// The port was just released; another process taking it in between is
	// unlikely but possible, and then the test cannot go on.
	for range 20 {
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("testkit: restart redis-server on %s: %v", s.Addr(), err)
}

func (s *Redis) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	//nolint:gosec // G204: the binary is redis-server from PATH and every argument is ours.
	cmd := exec.Command(s.bin,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--dir", s.dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--loglevel", "warning",
	)
	cmd.Args = append(cmd.Args, s.args...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited (%v): %s", waitErr, out.String())
		default:
		}
		if ping(s.Addr()) == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("redis-server did not answer PING within 10s: %s", out.String())
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
