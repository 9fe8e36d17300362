// Command bounds measures what hostile clients can make a bulkguard binary
// hold, with the caps of README "Bounded resources": resident memory after
// many streamable-HTTP initializations, after many previews of a large
// query, after one huge stdio line, and descriptors and shutdown time with
// many clients sending their bodies one byte at a time. Loopback only, a
// bounded number of requests; it prints one table row per scenario.
//
//	go build -o /tmp/bulkguard . && go run ./bench/cmd/bounds -bin /tmp/bulkguard
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const token = "bounds-bench-token-0123456789"

var listening = regexp.MustCompile(`url=(http://\S+/mcp)`)

func main() {
	bin := flag.String("bin", "", "path of the bulkguard binary")
	sessions := flag.Int("sessions", 20000, "streamable-HTTP initializations")
	previews := flag.Int("previews", 600, "previews of the large query")
	querySize := flag.Int("query-bytes", 200<<10, "size of the large query")
	lineSize := flag.Int("line-bytes", 100<<20, "size of the huge stdio line")
	slow := flag.Int("slow-clients", 2000, "clients sending a body one byte a second")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "bounds: -bin is required")
		os.Exit(2)
	}
	tmp, err := os.MkdirTemp("", "bulkguard-bounds-")
	check(err)
	defer os.RemoveAll(tmp)
	fmt.Println("| scenario | figure |")
	fmt.Println("|---|---|")
	runSessions(*bin, tmp, *sessions)
	runPreviews(*bin, tmp, *previews, *querySize)
	runStdioLine(*bin, tmp, *lineSize)
	runSlowClients(*bin, tmp, *slow)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bounds:", err)
		os.Exit(1)
	}
}

// server is a bulkguard on streamable HTTP.
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
}

func startHTTP(bin, tmp string, args ...string) *server {
	args = append([]string{"--transport", "http", "--listen", "127.0.0.1:0", "--sandbox", "--http-token", token,
		"--audit-log", filepath.Join(tmp, fmt.Sprintf("audit-%d.jsonl", time.Now().UnixNano()))}, args...)
	cmd := exec.Command(bin, args...) //nolint:gosec // the binary under test, named by -bin
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	check(cmd.Start())
	s := &server{cmd: cmd, stderr: &bytes.Buffer{}}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case s.url = <-found:
	case <-time.After(60 * time.Second):
		check(fmt.Errorf("%s did not start listening", bin))
	}
	return s
}

func (s *server) stop() time.Duration {
	start := time.Now()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	return time.Since(start)
}

// status reads a field of /proc/<pid>/status in MiB.
func status(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.Fields(rest)[0], 64)
			check(err)
			return kb / 1024
		}
	}
	return 0
}

func fds(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	check(err)
	return len(ents)
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: 60 * time.Second}

func post(url, sid, body string) (int, string, string) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	check(err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	resp, err := client.Do(req)
	check(err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), string(b)
}

const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bounds","version":"1"}}}`

func runSessions(bin, tmp string, n int) {
	s := startHTTP(bin, tmp)
	before := status(s.cmd.Process.Pid, "VmRSS")
	var wg sync.WaitGroup
	per := n / 4
	for range 4 {
		wg.Go(func() {
			for range per {
				if st, _, _ := post(s.url, "", initBody); st != http.StatusOK {
					check(fmt.Errorf("initialize: status %d", st))
				}
			}
		})
	}
	wg.Wait()
	after := status(s.cmd.Process.Pid, "VmRSS")
	s.stop()
	fmt.Printf("| %d streamable-HTTP initializations (cap 1000) | RSS %.0f → %.0f MiB |\n", 4*per, before, after)
}

// wideQuery is a valid lead query of about size bytes.
func wideQuery(size int) string {
	one := `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"acme"}}`
	k := size / (len(one) + 1)
	return `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"or","queries":[` +
		strings.TrimSuffix(strings.Repeat(one+",", k), ",") + `]}]}`
}

func runPreviews(bin, tmp string, n, size int) {
	s := startHTTP(bin, tmp, "--max-body-bytes", "1MiB")
	_, sid, _ := post(s.url, "", initBody)
	before := status(s.cmd.Process.Pid, "VmRSS")
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"preview_bulk_delete","arguments":{"s_query":` + wideQuery(size) + `}}}`
	refused := 0
	for range n {
		_, _, body := post(s.url, sid, call)
		if strings.Contains(body, "plans_full") {
			refused++
		}
	}
	after := status(s.cmd.Process.Pid, "VmRSS")
	s.stop()
	fmt.Printf("| %d previews of a %d KiB query (100 plans per credential) | RSS %.0f → %.0f MiB; %d refused as plans_full |\n",
		n, len(call)>>10, before, after, refused)
}

func runStdioLine(bin, tmp string, size int) {
	cmd := exec.Command(bin, "--sandbox", "--audit-log", filepath.Join(tmp, "audit-stdio.jsonl")) //nolint:gosec // as in startHTTP
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp}
	stdin, err := cmd.StdinPipe()
	check(err)
	stdout, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	r := bufio.NewReader(stdout)
	_, err = io.WriteString(stdin, initBody+"\n")
	check(err)
	_, err = r.ReadString('\n')
	check(err)
	before := status(cmd.Process.Pid, "VmRSS")
	head := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"preview_bulk_delete","arguments":{"s_query":"`
	_, err = io.WriteString(stdin, head)
	check(err)
	chunk := strings.Repeat("a", 1<<20)
	for range size >> 20 {
		_, err = io.WriteString(stdin, chunk)
		check(err)
	}
	_, err = io.WriteString(stdin, `"}}}`+"\n"+`{"jsonrpc":"2.0","id":3,"method":"ping"}`+"\n")
	check(err)
	a1, err := r.ReadString('\n')
	check(err)
	a2, err := r.ReadString('\n')
	check(err)
	peak := status(cmd.Process.Pid, "VmHWM")
	_ = stdin.Close()
	_ = cmd.Wait()
	ok := strings.Contains(a1+a2, `"code":-32600`) && strings.Contains(a1+a2, `"id":3,"result"`)
	fmt.Printf("| one %d MiB stdio line, then a ping | RSS %.0f MiB before, peak %.0f MiB; error answered and session alive: %v |\n",
		size>>20, before, peak, ok)
}

func runSlowClients(bin, tmp string, n int) {
	s := startHTTP(bin, tmp)
	addr := strings.TrimSuffix(strings.TrimPrefix(s.url, "http://"), "/mcp")
	before := fds(s.cmd.Process.Pid)
	var conns []net.Conn
	for range n {
		c, err := net.Dial("tcp", addr)
		check(err)
		conns = append(conns, c)
		_, err = io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: "+addr+"\r\nAuthorization: Bearer "+token+
			"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		check(err)
	}
	time.Sleep(2 * time.Second)
	during := fds(s.cmd.Process.Pid)
	took := s.stop()
	for _, c := range conns {
		_ = c.Close()
	}
	fmt.Printf("| %d clients stalled in their request bodies, then SIGTERM | descriptors %d → %d; shut down in %.1f s (grace 10 s) |\n",
		n, before, during, took.Seconds())
}
