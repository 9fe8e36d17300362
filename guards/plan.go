package guards

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
)

// Plan is what a preview saw and what a create may send: nothing else. It is
// saved at preview and loaded, claimed and consumed at create, so the request
// Close receives is byte for byte the one whose count the person confirmed
// (apart from results_limit, which create lowers to WillDelete).
type Plan struct {
	ID          string `json:"id"`
	Principal   string `json:"principal"`
	Environment string `json:"environment"`
	ObjectType  string `json:"object_type"`
	// Request is the canonical request: encoded s_query and sort, the
	// results_limit the caller asked for (nil = none) and send_done_email.
	Request     closeapi.BulkDeleteRequest `json:"request"`
	SmartViewID string                     `json:"smart_view_id,omitempty"`
	Summary     string                     `json:"summary"`
	QueryDigest string                     `json:"query_digest"`
	Total       int                        `json:"total"`
	WillDelete  int                        `json:"will_delete"`
	SampleIDs   []string                   `json:"sample_ids"`
	// IDs is every id the delete would take (packIDs: sorted,
	// comma-separated) when there were at most Policy.VerifyIDsUpTo; ""
	// when only the sample is kept. IDsDigest names the set in the audit log.
	IDs       string `json:"ids,omitempty"`
	IDsDigest string `json:"ids_digest,omitempty"`
	// Sample keeps the display names too, for the confirmation message.
	Sample     []closeapi.SampleItem `json:"sample,omitempty"`
	Warnings   []string              `json:"warnings,omitempty"`
	Executable bool                  `json:"executable"`
	Refusal    *Refusal              `json:"refusal,omitempty"`
	Phrase     string                `json:"phrase,omitempty"`
	CreatedAt  time.Time             `json:"created_at"`
	ExpiresAt  time.Time             `json:"expires_at"`
}

// clone returns a deep copy so that callers never share a plan with the
// store (the store's copy is the only one whose state matters).
func (p *Plan) clone() *Plan {
	c := *p
	c.Request.SQuery = append(json.RawMessage(nil), p.Request.SQuery...)
	c.Request.Sort = append(json.RawMessage(nil), p.Request.Sort...)
	if p.Request.ResultsLimit != nil {
		v := *p.Request.ResultsLimit
		c.Request.ResultsLimit = &v
	}
	if p.Request.SendDoneEmail != nil {
		v := *p.Request.SendDoneEmail
		c.Request.SendDoneEmail = &v
	}
	c.SampleIDs = append([]string(nil), p.SampleIDs...)
	c.Sample = append([]closeapi.SampleItem(nil), p.Sample...)
	c.Warnings = append([]string(nil), p.Warnings...)
	if p.Refusal != nil {
		r := *p.Refusal
		c.Refusal = &r
	}
	return &c
}

// PlanState is where a plan is in its single life.
type PlanState int

const (
	// PlanAvailable: saved, not yet used.
	PlanAvailable PlanState = iota
	// PlanClaimed: one create holds it (recounting or sending). Nobody else
	// may use it until that create consumes, discards or releases it.
	PlanClaimed
	// PlanConsumed: a create was sent (whatever its outcome). Final.
	PlanConsumed
	// PlanDiscarded: a create found it stale (more objects match now than
	// were previewed). Final.
	PlanDiscarded
)

func (s PlanState) String() string {
	switch s {
	case PlanAvailable:
		return "available"
	case PlanClaimed:
		return "claimed"
	case PlanConsumed:
		return "consumed"
	case PlanDiscarded:
		return "discarded"
	}
	return "unknown"
}

// ErrPlanNotFound is returned by a PlanStore for an id it does not hold.
var ErrPlanNotFound = errors.New("plan not found")

// ErrPlanNotAvailable is returned by Claim when the plan is claimed,
// consumed or discarded; the returned state says which.
var ErrPlanNotAvailable = errors.New("plan not available")

// PlanStore keeps plans between preview and create. Implementations must be
// safe for concurrent use, and Claim must be atomic: of any number of
// concurrent Claims of one available plan exactly one succeeds. That single
// property is what makes two concurrent creates of one plan start at most
// one job.
//
// Expiry is judged by the guard with its own clock; a store only has to keep
// a plan (and its final state) at least until ExpiresAt so that "expired" and
// "consumed" can be told apart from "unknown". A store may drop an expired
// plan's query and sample (see MemoryStore) but must then refuse to Claim it.
//
// The caps on plans (Policy.MaxPlansPerPrincipal, MaxPlanBytes) are
// counted by the guard before Save, in its own ledger unless the store is
// also a PlanCounter (which a store shared by replicas should be).
type PlanStore interface {
	// Save stores a new plan in PlanAvailable.
	Save(ctx context.Context, p *Plan) error
	// Load returns a copy of the plan and its state, or ErrPlanNotFound.
	Load(ctx context.Context, id string) (*Plan, PlanState, error)
	// Claim moves the plan from PlanAvailable to PlanClaimed and returns a
	// copy. Otherwise it returns ErrPlanNotAvailable with the current
	// state, or ErrPlanNotFound.
	Claim(ctx context.Context, id string) (*Plan, PlanState, error)
	// Release moves a claimed plan back to PlanAvailable (nothing was sent).
	Release(ctx context.Context, id string) error
	// Finish moves a claimed plan to a final state (PlanConsumed or
	// PlanDiscarded).
	Finish(ctx context.Context, id string, final PlanState) error
}

// MemoryStore is the in-process PlanStore. A plan that expires is cut down
// to a tombstone (what "expired" and "already used" messages and their
// audit records need, not the query or sample), which is kept for a grace
// period, so a late create is told "expired", not "unknown", then
// forgotten. Both happen on every Save and on a timer that runs while the
// store holds plans: 600 previews of a 200 KB query held 458 MiB when
// plans were swept only by the next Save.
type MemoryStore struct {
	now   func() time.Time
	grace time.Duration

	mu    sync.Mutex
	plans map[string]*memEntry
	timer *time.Timer // the next sweep; nil while the store is empty
}

type memEntry struct {
	plan  *Plan
	state PlanState
	tomb  bool // plan is a tombstone: expired, nothing left to send
}

// memorySweepEvery is how often the timer sweeps a store that holds plans.
const memorySweepEvery = time.Minute

// tombstone keeps of an expired plan what the messages about it use.
func (p *Plan) tombstone() *Plan {
	return &Plan{ID: p.ID, Principal: p.Principal, Environment: p.Environment, ObjectType: p.ObjectType,
		Summary: Clip(p.Summary, 200), QueryDigest: p.QueryDigest, Total: p.Total, WillDelete: p.WillDelete,
		Executable: p.Executable, CreatedAt: p.CreatedAt, ExpiresAt: p.ExpiresAt}
}

// sweepLocked tombstones expired plans and forgets those past the grace.
func (m *MemoryStore) sweepLocked(now time.Time) {
	for id, e := range m.plans {
		switch {
		case now.After(e.plan.ExpiresAt.Add(m.grace)):
			delete(m.plans, id)
		case !e.tomb && !now.Before(e.plan.ExpiresAt):
			e.plan, e.tomb = e.plan.tombstone(), true
		}
	}
}

// tick is the timer's sweep; it stops once the store is empty.
func (m *MemoryStore) tick() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(m.now())
	if len(m.plans) == 0 {
		m.timer = nil
		return
	}
	m.timer.Reset(memorySweepEvery)
}

// memoryGrace is how long a plan is remembered after it expires.
const memoryGrace = time.Hour

// NewMemoryStore returns an empty in-memory store on the wall clock.
func NewMemoryStore() *MemoryStore { return NewMemoryStoreClock(time.Now) }

// NewMemoryStoreClock returns an empty in-memory store whose sweeping uses
// now (tests inject a clock; the guard passes its own).
func NewMemoryStoreClock(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{now: now, grace: memoryGrace, plans: map[string]*memEntry{}}
}

func (m *MemoryStore) Save(_ context.Context, p *Plan) error {
	if p == nil || p.ID == "" {
		return errors.New("guards: cannot save a plan without an id")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepLocked(m.now())
	if _, dup := m.plans[p.ID]; dup {
		return errors.New("guards: duplicate plan id")
	}
	m.plans[p.ID] = &memEntry{plan: p.clone(), state: PlanAvailable}
	if m.timer == nil {
		m.timer = time.AfterFunc(memorySweepEvery, m.tick)
	}
	return nil
}

func (m *MemoryStore) Load(_ context.Context, id string) (*Plan, PlanState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.plans[id]
	if !ok {
		return nil, 0, ErrPlanNotFound
	}
	return e.plan.clone(), e.state, nil
}

func (m *MemoryStore) Claim(_ context.Context, id string) (*Plan, PlanState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.plans[id]
	if !ok {
		return nil, 0, ErrPlanNotFound
	}
	if e.state != PlanAvailable || e.tomb {
		// A tombstone has no request left to send: it is never claimed,
		// even by a guard whose clock says it has not expired yet.
		return nil, e.state, ErrPlanNotAvailable
	}
	e.state = PlanClaimed
	return e.plan.clone(), PlanClaimed, nil
}

func (m *MemoryStore) Release(_ context.Context, id string) error {
	return m.leaveClaimed(id, "release", PlanAvailable)
}

func (m *MemoryStore) Finish(_ context.Context, id string, final PlanState) error {
	if final != PlanConsumed && final != PlanDiscarded {
		return errors.New("guards: Finish needs PlanConsumed or PlanDiscarded")
	}
	return m.leaveClaimed(id, "finish", final)
}

// leaveClaimed moves a claimed plan to state to; any other plan is an error
// naming the action (verb) that found it unclaimed.
func (m *MemoryStore) leaveClaimed(id, verb string, to PlanState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.plans[id]
	if !ok {
		return ErrPlanNotFound
	}
	if e.state != PlanClaimed {
		return errors.New("guards: " + verb + " of a plan that is " + e.state.String())
	}
	e.state = to
	return nil
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomBase62 returns n characters from crypto/rand without modulo bias
// (bytes ≥ 248 are rejected), so ids cannot be guessed or enumerated.
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2+8)
	for len(out) < n {
		rand.Read(buf) // crypto/rand.Read never fails (Go ≥ 1.24)
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			out = append(out, base62[int(b)%62])
			if len(out) == n {
				break
			}
		}
	}
	return string(out)
}

// newPlanID is "plan_" + 24 base62 characters (about 143 random bits).
func newPlanID() string { return "plan_" + randomBase62(24) }
