// Package report holds what the bench programs and tests share: latency
// summaries (nearest-rank percentiles), the machine line every result block
// starts with, and the in-place rewrite of one marked section of
// bench/results.md, so each script refreshes its own figures and leaves the
// others alone.
package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Summary describes a sample of latencies.
type Summary struct {
	N                 int
	Min, Median, Mean time.Duration
	P90, P99, Max     time.Duration
}

// Summarize sorts a copy of d and returns its order statistics. Percentiles
// are nearest-rank (the smallest value with at least p% of the sample at or
// below it), so a p99 is always a latency that was really observed.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return Summary{
		N:      len(s),
		Min:    s[0],
		Median: Percentile(s, 50),
		Mean:   sum / time.Duration(len(s)),
		P90:    Percentile(s, 90),
		P99:    Percentile(s, 99),
		Max:    s[len(s)-1],
	}
}

// Percentile is the nearest-rank p-th percentile of sorted (ascending).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// rank = ceil(p/100 * n), 1-based; integer arithmetic in hundredths
	// avoids float rounding turning 99% of 100 into rank 100.
	n := len(sorted)
	hp := int(p * 100) // p in hundredths of a percent
	rank := (hp*n + 9999) / 10000
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Micros formats d in microseconds with one decimal, the unit every table
// in results.md uses for per-call latency.
func Micros(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond))
}

// Millis formats d in milliseconds with two decimals.
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond))
}

// Machine is the one-line description of where figures were measured:
// logical CPUs, CPU model (from /proc/cpuinfo), OS/arch, kernel, Go version,
// the date and the load average. Figures without it cannot be compared.
func Machine(now time.Time) string {
	return fmt.Sprintf("nproc %d, CPU %s, %s/%s, kernel %s, %s, %s, load average %s",
		runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, kernel(), runtime.Version(),
		now.UTC().Format("2006-01-02 15:04 UTC"), LoadAverage())
}

// LoadAverage is the 1-minute load average from /proc/loadavg: figures
// taken on a busy machine (other builds or tests running) are not
// comparable, and this says so next to them.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "unknown"
	}
	return f[0]
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func kernel() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// Markers delimit a section of results.md: everything between them belongs
// to the program or test that writes it.
func beginMarker(name string) string {
	return "<!-- BEGIN " + name + " (generated; see bench/README.md) -->"
}
func endMarker(name string) string { return "<!-- END " + name + " -->" }

// ReplaceSection rewrites the body of section name in the file at path,
// keeping everything outside its markers. A section that is not there yet
// is appended at the end.
func ReplaceSection(path, name, body string) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := Splice(old, name, body)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644) //nolint:gosec // G306: a results page meant to be committed and read
}

// Splice returns doc with the body of section name replaced (or the section
// appended when doc has no such markers).
func Splice(doc []byte, name, body string) ([]byte, error) {
	begin, end := []byte(beginMarker(name)), []byte(endMarker(name))
	body = strings.TrimRight(body, "\n") + "\n"
	i := bytes.Index(doc, begin)
	j := bytes.Index(doc, end)
	switch {
	case i < 0 && j < 0:
		var b bytes.Buffer
		b.Write(bytes.TrimRight(doc, "\n"))
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "%s\n%s%s\n", begin, body, end)
		return b.Bytes(), nil
	case i < 0 || j < 0 || j < i:
		return nil, errors.New("section " + name + ": markers are missing or out of order")
	}
	var b bytes.Buffer
	b.Write(doc[:i+len(begin)])
	b.WriteString("\n")
	b.WriteString(body)
	b.Write(doc[j:])
	return b.Bytes(), nil
}
