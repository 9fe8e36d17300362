package guards

import (
	"context"
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

// PlanCounter counts the unexpired plans against Policy's caps
// (MaxPlansPerPrincipal, MaxPlanBytes). A PlanStore that replicas share
// implements it, so that the caps hold across replicas: the guard then
// counts through the store. A store that does not implement it gets the
// guard's own ledger (planBudget), which counts only this process's
// previews, which is exact for a store that only this process uses.
//
// A plan counts from its reservation (before Save) until it expires, used
// or not: its bytes stay in the store until then.
type PlanCounter interface {
	// ReservePlan counts plan r.ID unless that would pass a cap; check and
	// count are atomic against every other ReservePlan of r.Principal,
	// whichever replica makes it. Plans whose expiry is not after r.Now
	// stop counting first. A reservation that would pass a cap counts
	// nothing and reports Admitted false. An error means the counter could
	// not tell: the guard refuses the preview.
	ReservePlan(ctx context.Context, r PlanReservation) (PlanUsage, error)
	// UnreservePlan stops counting a plan that was reserved but not saved.
	UnreservePlan(ctx context.Context, principal, id string) error
}

// PlanReservation is one plan to count.
type PlanReservation struct {
	Principal string
	ID        string
	Bytes     int64     // the plan's encoded size (planSize)
	ExpiresAt time.Time // when it stops counting
	Now       time.Time // the guard's clock
	MaxPlans  int       // per principal
	MaxBytes  int64     // in total, or per principal (PlanUsage.BytesPerPrincipal)
}

// PlanUsage is what a reservation found.
type PlanUsage struct {
	Admitted bool
	// Plans is how many unexpired plans the principal held before this one.
	Plans int
	// Bytes is what the plans MaxBytes was judged against held before this
	// one: every plan, or only the principal's when BytesPerPrincipal.
	Bytes             int64
	BytesPerPrincipal bool
}

// planBudget is the guard's own PlanCounter: per principal by count, in
// total by encoded size, in this process's memory. An expired plan no
// longer counts: the MemoryStore then keeps only a small tombstone of it
// (see MemoryStore).
type planBudget struct {
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

var _ PlanCounter = (*planBudget)(nil)

func newPlanBudget() *planBudget {
	return &planBudget{plans: map[string]budgetEntry{}, byPrincipal: map[string]int{}}
}

// planSize is what a plan costs: its encoded size.
func planSize(p *Plan) int64 {
	b, err := json.Marshal(p)
	if err != nil {
		return 0
	}
	return int64(len(b))
}

// ReservePlan sweeps the plans expired by r.Now, then counts r unless a
// cap is reached.
func (b *planBudget) ReservePlan(_ context.Context, r PlanReservation) (PlanUsage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for id, e := range b.plans {
		if !r.Now.Before(e.expires) {
			b.drop(id, e)
		}
	}
	u := PlanUsage{Plans: b.byPrincipal[r.Principal], Bytes: b.bytes}
	if u.Plans >= r.MaxPlans || b.bytes+r.Bytes > r.MaxBytes {
		return u, nil
	}
	b.plans[r.ID] = budgetEntry{principal: r.Principal, size: r.Bytes, expires: r.ExpiresAt}
	b.byPrincipal[r.Principal]++
	b.bytes += r.Bytes
	u.Admitted = true
	return u, nil
}

// UnreservePlan removes a plan that was counted but not saved.
func (b *planBudget) UnreservePlan(_ context.Context, _, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.plans[id]; ok {
		b.drop(id, e)
	}
	return nil
}

func (b *planBudget) drop(id string, e budgetEntry) {
	delete(b.plans, id)
	b.bytes -= e.size
	if b.byPrincipal[e.principal]--; b.byPrincipal[e.principal] <= 0 {
		delete(b.byPrincipal, e.principal)
	}
}

// reservePlan counts p against the caps through g.plans. It returns the
// plans_full refusal that says which cap is reached, or store_unavailable
// when the counter (a shared store) could not tell.
func (g *Guard) reservePlan(ctx context.Context, p *Plan) *Refusal {
	r := PlanReservation{Principal: p.Principal, ID: p.ID, Bytes: planSize(p), ExpiresAt: p.ExpiresAt, Now: g.now(),
		MaxPlans: g.policy.MaxPlansPerPrincipal, MaxBytes: g.policy.MaxPlanBytes}
	u, err := g.plans.ReservePlan(ctx, r)
	if err != nil {
		if r, ok := AsRefusal(err); ok {
			return r
		}
		return StoreUnavailable("count the plans this credential holds", err)
	}
	if u.Admitted {
		return nil
	}
	whose := "the server's"
	if u.BytesPerPrincipal {
		whose = "this credential's"
	}
	problem := fmt.Sprintf("%s unexpired plans already take %s and this one needs %s more, over the limit of %s (--max-plan-bytes)",
		whose, byteCount(u.Bytes), byteCount(r.Bytes), byteCount(r.MaxBytes))
	if u.Plans >= r.MaxPlans {
		problem = fmt.Sprintf("this credential already holds %d unexpired plans, the limit (--max-plans-per-principal)", u.Plans)
	}
	return &Refusal{Code: CodePlansFull,
		Problem: problem + ", so this preview was not saved",
		Next: fmt.Sprintf("Wait for older plans to expire (a plan lasts %s, --plan-ttl), or use fewer or lighter previews "+
			"(reuse the plan already made for a query instead of previewing it again), then call preview_bulk_delete again.", g.policy.PlanTTL)}
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
