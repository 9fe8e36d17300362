package bench

import (
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/bench/internal/bare"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/tools"
)

// Benchmarks, run by bench/run-scale.sh (never by `go test ./...`, which
// runs no benchmarks). They go through everything of bulkguard but the
// transport: an in-process MCP client → tools → guard → closeapi → the
// sandbox over loopback HTTP.

// bigPolicy lets one plan cover every lead of the largest organization.
// bigPolicy measures the guard's own cost at scale; a backup's cost is measured apart.
var bigPolicy = guards.Policy{MaxObjects: sandbox.MaxLeads, Backup: guards.BackupOff}

// rigs caches one rig per organization size: seeding a million leads takes
// seconds, and the benchmark function runs several times (b.N grows).
var (
	rigsMu sync.Mutex
	rigs   = map[int]*rig{}
)

func cachedRig(b *testing.B, leads int) *rig {
	rigsMu.Lock()
	defer rigsMu.Unlock()
	if r, ok := rigs[leads]; ok {
		return r
	}
	start := time.Now()
	// The rig outlives this sub-benchmark (it is cached for the next run of
	// the same size), so it is cleaned up with the process, not by b.
	r := newRig(longLived{b}, sandbox.Options{Seed: 1, Leads: leads}, bigPolicy)
	b.Logf("seeded %d leads in %v", leads, time.Since(start).Round(time.Millisecond))
	// Collect the seeding garbage now, so that marking a heap of a million
	// leads is not charged to the first measured calls (cpu-ns/op).
	runtime.GC()
	rigs[leads] = r
	return r
}

// longLived is a testing.TB whose Cleanup and TempDir are never run or
// removed by the benchmark that creates the rig, so a cached rig stays
// usable across the runs of a benchmark; the process exit frees it.
type longLived struct{ *testing.B }

func (longLived) Cleanup(func()) {}

// BenchmarkPreview previews the three-condition query (status, a word in
// the name, creation date) over 10,000, 100,000 and 1,000,000 leads: one
// count-and-sample search in the sandbox plus bulkguard's plan, audit
// record and result.
func BenchmarkPreview(b *testing.B) {
	for _, leads := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("leads=%d", leads), func(b *testing.B) {
			r := cachedRig(b, leads)
			q := threeConditionQuery(b, r.sb)
			var p preview
			cpuLoop(b, func() { r.call(b, tools.ToolPreview, map[string]any{"s_query": q}, &p) })
			b.ReportMetric(float64(p.Total), "matches")
		})
	}
}

// BenchmarkPreviewEvery previews a query matching every lead (the worst
// case for a count) at the same sizes.
func BenchmarkPreviewEvery(b *testing.B) {
	for _, leads := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("leads=%d", leads), func(b *testing.B) {
			r := cachedRig(b, leads)
			q := everyLeadQuery()
			var p preview
			cpuLoop(b, func() { r.call(b, tools.ToolPreview, map[string]any{"s_query": q}, &p) })
			if p.Total != leads {
				b.Fatalf("previewed %d leads, want %d", p.Total, leads)
			}
			b.ReportMetric(float64(p.Total), "matches")
		})
	}
}

// BenchmarkFullDelete deletes all 100,000 leads of a fresh organization
// through the tools: preview, create (phrase), then get_bulk_delete every
// pollEvery until the job is done. The sandbox deletes at its unlimited
// rate (DeleteRate 0) in its default batches of 50. Seeding is not timed.
func BenchmarkFullDelete(b *testing.B) {
	const leads = 100_000
	const pollEvery = 5 * time.Millisecond
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRig(b, sandbox.Options{Seed: 1, Leads: leads}, bigPolicy)
		q := everyLeadQuery()
		b.StartTimer()

		start := time.Now()
		var p preview
		r.call(b, tools.ToolPreview, map[string]any{"s_query": q, "sample_size": 1}, &p)
		if p.Total != leads || !p.Executable {
			b.Fatalf("preview: %d matches, executable %v: %+v", p.Total, p.Executable, p.Refusal)
		}
		var j jobOut
		r.call(b, tools.ToolCreate, map[string]any{"plan_id": p.PlanID, "confirm": p.ConfirmationPhrase}, &j)
		created := time.Since(start)
		polls := 0
		deadline := time.Now().Add(10 * time.Minute) // bounded: a stuck job fails the benchmark
		for {
			var g jobOut
			r.call(b, tools.ToolGet, map[string]any{"id": j.Job.ID}, &g)
			polls++
			if g.Progress.Terminal {
				if g.Job.Status == nil || *g.Job.Status != "done" || g.Progress.Processed != leads {
					b.Fatalf("job ended %v with %d processed", g.Job.Status, g.Progress.Processed)
				}
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("job not done after 10 minutes: %+v", g)
			}
			time.Sleep(pollEvery)
		}
		total := time.Since(start)
		b.StopTimer()
		if n := r.sb.NumLeads(); n != 0 {
			b.Fatalf("%d leads left after the delete", n)
		}
		b.ReportMetric(float64(created.Milliseconds()), "ms-to-created")
		b.ReportMetric(float64(leads)/total.Seconds(), "leads/s")
		b.ReportMetric(float64(polls), "polls")
		b.StartTimer()
	}
}

// BenchmarkGet is one read of a bulk-delete job, in-process (no
// transport), four ways: the GET sent straight to the sandbox, a bare
// mcp-go server whose tool sends that GET (the floor of any MCP proxy of
// one Close read), and bulkguard's get_bulk_delete in both protocol eras.
// Besides ns/op it reports the process's CPU time per call (getrusage: the
// sandbox's share included, the same in every variant), which stays
// meaningful on a machine busy with other work. This is the benchmark to
// profile the per-call overhead measured end to end by run-overhead.sh.
func BenchmarkGet(b *testing.B) {
	r := cachedRig(b, 2000)
	var plan preview
	r.call(b, tools.ToolPreview, map[string]any{"s_query": junkQuery()}, &plan)
	var j jobOut
	r.call(b, tools.ToolCreate, map[string]any{"plan_id": plan.PlanID, "confirm": plan.ConfirmationPhrase}, &j)
	id := j.Job.ID
	args := map[string]any{"id": id}
	hc := &http.Client{Timeout: 30 * time.Second}
	bareSrv := bare.NewServer(r.url, r.sb.APIKey())
	legacy := []client.ClientOption{client.WithProtocolVersion(mcp.ProtocolVersion20251125)}

	b.Run("direct", func(b *testing.B) {
		cpuLoop(b, func() {
			if _, err := bare.GetJob(b.Context(), hc, r.url, r.sb.APIKey(), id); err != nil {
				b.Fatal(err)
			}
		})
	})
	for _, v := range []struct {
		name string
		srv  *server.MCPServer
		tool string
		opts []client.ClientOption
	}{
		{"bare-get/legacy", bareSrv, bare.Get, legacy},
		{"bare-get/modern", bareSrv, bare.Get, nil},
		{"bulkguard/legacy", r.srv, tools.ToolGet, legacy},
		{"bulkguard/modern", r.srv, tools.ToolGet, nil},
	} {
		b.Run(v.name, func(b *testing.B) {
			c, err := client.NewInProcessClientWithOptions(v.srv, v.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			if err := c.Start(b.Context()); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Initialize(b.Context(), mcp.InitializeRequest{}); err != nil {
				b.Fatal(err)
			}
			rc := &rig{c: c}
			cpuLoop(b, func() { rc.call(b, v.tool, args, nil) })
		})
	}
}

// cpuLoop runs fn b.N times (b.Loop) and reports allocations and the
// process CPU time (user + system) per call.
func cpuLoop(b *testing.B, fn func()) {
	b.ReportAllocs()
	c0 := processCPU(b)
	n := 0
	for b.Loop() {
		fn()
		n++
	}
	b.ReportMetric(float64((processCPU(b)-c0).Nanoseconds())/float64(n), "cpu-ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
