package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the lower middle", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"median of five", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p99 of 100 is the 99th", hundred, 99, 99 * time.Millisecond},
		{"p90 of 100 is the 90th", hundred, 90, 90 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p0 is clamped to the min", hundred, 0, 1 * time.Millisecond},
		{"p99 of 10 is the max", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 99, 10 * time.Millisecond},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Percentile(c.sorted, c.p); got != c.want {
				t.Fatalf("Percentile(p%g) = %v, want %v", c.p, got, c.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	in := ms(5, 1, 4, 2, 3)
	s := Summarize(in)
	want := Summary{N: 5, Min: ms(1)[0], Median: ms(3)[0], Mean: ms(3)[0], P90: ms(5)[0], P99: ms(5)[0], Max: ms(5)[0]}
	if s != want {
		t.Fatalf("Summarize = %+v, want %+v", s, want)
	}
	if in[0] != 5*time.Millisecond {
		t.Fatal("Summarize sorted its input in place")
	}
	if (Summarize(nil) != Summary{}) {
		t.Fatal("Summarize(nil) is not the zero Summary")
	}
}

func TestSplice(t *testing.T) {
	b, e := beginMarker("x"), endMarker("x")
	cases := []struct {
		name, doc, body, want string
		wantErr               bool
	}{
		{
			name: "appends a missing section",
			doc:  "# Results\n",
			body: "new",
			want: "# Results\n\n" + b + "\nnew\n" + e + "\n",
		},
		{
			name: "appends to an empty file",
			doc:  "",
			body: "new\n\n",
			want: b + "\nnew\n" + e + "\n",
		},
		{
			name: "replaces the body and keeps the rest",
			doc:  "top\n" + b + "\nold\nlines\n" + e + "\nbottom\n",
			body: "new",
			want: "top\n" + b + "\nnew\n" + e + "\nbottom\n",
		},
		{
			name:    "an end marker alone is an error",
			doc:     "top\n" + e + "\n",
			body:    "new",
			wantErr: true,
		},
		{
			name:    "markers out of order are an error",
			doc:     e + "\n" + b + "\n",
			body:    "new",
			wantErr: true,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Splice([]byte(c.doc), "x", c.body)
			if c.wantErr {
				if err == nil {
					t.Fatalf("Splice succeeded: %q", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("Splice =\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestReplaceSectionTwiceIsStable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.md")
	if err := os.WriteFile(path, []byte("# Results\n\nhand-written\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"first", "second"} {
		if err := ReplaceSection(path, "s", body); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(got), beginMarker("s")) != 1 || !strings.Contains(string(got), "\nsecond\n") ||
		strings.Contains(string(got), "first") || !strings.Contains(string(got), "hand-written") {
		t.Fatalf("after two rewrites:\n%s", got)
	}
}

func TestMachine(t *testing.T) {
	m := Machine(time.Date(2026, 11, 30, 14, 0, 0, 0, time.UTC))
	for _, want := range []string{"nproc ", "CPU ", "go1", "2026-11-30 14:00 UTC"} {
		if !strings.Contains(m, want) {
			t.Fatalf("Machine() = %q, missing %q", m, want)
		}
	}
}
