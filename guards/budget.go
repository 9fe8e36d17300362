package guards

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Defaults of Policy's plan caps.
const (
	// DefaultMaxPlansPerPrincipal: a person previews a handful of queries
	// before deleting; a hundred live plans (each lives PlanTTL) is far
	// past that and stops one credential from holding the memory of all.
	DefaultMaxPlansPerPrincipal = 100
	// DefaultMaxPlanBytes bounds the plans held at once to 64 MiB of
	// encoded plans: 256 plans of the largest query the schema accepts
	// (256 KiB), tens of thousands of ordinary ones.
	DefaultMaxPlanBytes = 64 << 20
)

// planBudget caps the plans this guard has saved and that have not expired
// yet: per principal by count, in total by encoded size. It is the guard's
// own ledger, so the caps hold whatever the PlanStore (in memory, Redis);
// with several replicas sharing a store each counts its own previews. An
// expired plan no longer counts: the MemoryStore then keeps only a small
// tombstone of it (see MemoryStore).
type planBudget struct {
	perPrincipal int
	maxBytes     int64
	ttl          time.Duration // Policy.PlanTTL, for the message

	mu          sync.Mutex
	plans       map[string]budgetEntry
	byPrincipal map[string]int
	bytes       int64
}

type budgetEntry struct {
	principal string
	size      int64
	expires   time.Time
}

func newPlanBudget(perPrincipal int, maxBytes int64, ttl time.Duration) *planBudget {
	return &planBudget{perPrincipal: perPrincipal, maxBytes: maxBytes, ttl: ttl,
		plans: map[string]budgetEntry{}, byPrincipal: map[string]int{}}
}

// planSize is what a plan costs: its encoded size.
func planSize(p *Plan) int64 {
	b, err := json.Marshal(p)
	if err != nil {
		return 0
	}
	return int64(len(b))
}

// admit counts p against the caps, or returns the refusal that says which
// cap is reached. Plans expired by now are swept first.
func (b *planBudget) admit(p *Plan, now time.Time) *Refusal {
	size := planSize(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, e := range b.plans {
		if !now.Before(e.expires) {
			b.drop(id, e)
		}
	}
	var problem string
	switch {
	case b.byPrincipal[p.Principal] >= b.perPrincipal:
		problem = fmt.Sprintf("this credential already holds %d unexpired plans, the limit (--max-plans-per-principal)", b.byPrincipal[p.Principal])
	case b.bytes+size > b.maxBytes:
		problem = fmt.Sprintf("the server's unexpired plans already take %s and this one needs %s more, over the limit of %s (--max-plan-bytes)",
			byteCount(b.bytes), byteCount(size), byteCount(b.maxBytes))
	}
	if problem != "" {
		return &Refusal{Code: CodePlansFull,
			Problem: problem + ", so this preview was not saved",
			Next: fmt.Sprintf("Wait for older plans to expire (a plan lasts %s, --plan-ttl), or use fewer or lighter previews "+
				"(reuse the plan already made for a query instead of previewing it again), then call preview_bulk_delete again.", b.ttl)}
	}
	b.plans[p.ID] = budgetEntry{principal: p.Principal, size: size, expires: p.ExpiresAt}
	b.byPrincipal[p.Principal]++
	b.bytes += size
	return nil
}

// forget removes a plan that was counted but not saved.
func (b *planBudget) forget(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.plans[id]; ok {
		b.drop(id, e)
	}
}

func (b *planBudget) drop(id string, e budgetEntry) {
	delete(b.plans, id)
	b.bytes -= e.size
	if b.byPrincipal[e.principal]--; b.byPrincipal[e.principal] <= 0 {
		delete(b.byPrincipal, e.principal)
	}
}

// byteCount writes n as KiB or MiB for a message.
func byteCount(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
