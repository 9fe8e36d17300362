package guards

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestPlanCapsPreview: a preview past a cap is refused as plans_full,
// saying nothing was deleted and what to do; once the plans expire the
// principal can preview again.
func TestPlanCapsPreview(t *testing.T) {
	tests := []struct {
		name     string
		policy   Policy
		want     int    // previews that succeed before the refusal
		wantText string // in the refusal's problem
	}{
		{"per principal", Policy{MaxPlansPerPrincipal: 3}, 3, "--max-plans-per-principal"},
		// A plan of this query encodes to well under 4 KiB and over 1 KiB.
		{"total bytes", Policy{MaxPlanBytes: 4 << 10}, -1, "--max-plan-bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{policy: tc.policy})
			h.addLeads("capword", 2)
			in := input(t, nameQuery("capword"), "")
			first := h.preview(in)
			p, _, err := h.g.store.Load(context.Background(), first.PlanID)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want < 0 {
				want = int(int64(4<<10) / planSize(p))
			}
			for i := 1; i < want; i++ {
				h.preview(in)
			}
			_, err = h.g.Preview(context.Background(), h.cl, in)
			wantRefusal(t, err, CodePlansFull)
			r, _ := AsRefusal(err)
			for _, s := range []string{tc.wantText, "not saved", "Nothing was deleted"} {
				if !strings.Contains(r.Error(), s) {
					t.Errorf("refusal %q lacks %q", r.Error(), s)
				}
			}
			if !strings.Contains(r.Next, "expire") || !strings.Contains(r.Next, "fewer or lighter previews") {
				t.Errorf("next %q does not say to wait or preview less", r.Next)
			}
			if recs := h.audit(); recs[len(recs)-1].Code != CodePlansFull {
				t.Errorf("last audit record %+v, want the plans_full refusal", recs[len(recs)-1])
			}
			h.clock.Advance(DefaultPlanTTL)
			h.preview(in)
		})
	}
}

// TestPlanBudget: the caps count per principal and in total, expired plans
// stop counting, and a plan that was not saved can be forgotten.
func TestPlanBudget(t *testing.T) {
	now := time.Now()
	b := newPlanBudget(2, 1<<20, time.Minute)
	mk := func(principal string, ttl time.Duration) *Plan {
		return &Plan{ID: newPlanID(), Principal: principal, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	}
	for _, p := range []*Plan{mk("a", time.Minute), mk("a", time.Hour), mk("b", time.Minute)} {
		if r := b.admit(p, now); r != nil {
			t.Fatalf("admit: %v", r)
		}
	}
	if r := b.admit(mk("a", time.Minute), now); r == nil || r.Code != CodePlansFull {
		t.Fatalf("third plan of a: %v", r)
	}
	// One of a's plans expires: a has room for one more.
	later := now.Add(time.Minute)
	if r := b.admit(mk("a", time.Hour), later); r != nil {
		t.Fatalf("after expiry: %v", r)
	}
	if r := b.admit(mk("a", time.Hour), later); r == nil {
		t.Fatal("a over its cap again")
	}
	p := mk("c", time.Hour)
	if r := b.admit(p, later); r != nil {
		t.Fatal(r)
	}
	b.forget(p.ID)
	if n := b.byPrincipal["c"]; n != 0 {
		t.Errorf("c still counts %d plans after forget", n)
	}

	small := newPlanBudget(100, 1<<10, time.Minute)
	big := mk("a", time.Hour)
	big.Summary = strings.Repeat("x", 2<<10)
	if r := small.admit(big, now); r == nil || !strings.Contains(r.Problem, "--max-plan-bytes") {
		t.Fatalf("a plan over the byte cap: %v", r)
	}
	if small.bytes != 0 {
		t.Errorf("a refused plan counts %d bytes", small.bytes)
	}
}

// TestMemoryStoreTombstones: an expired plan keeps no query or sample and
// cannot be claimed, and is forgotten after the grace; the timer sweeps
// (tick) without any Save.
func TestMemoryStoreTombstones(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := NewMemoryStoreClock(clock.Now)
	p := &Plan{ID: newPlanID(), Principal: "a", CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Minute),
		Summary: "leads named x", SampleIDs: []string{"lead_1"}}
	p.Request.SQuery = []byte(`{"type":"match_all"}`)
	if err := s.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	s.tick()
	got, st, err := s.Load(ctx, p.ID)
	if err != nil || st != PlanAvailable {
		t.Fatalf("load of an expired plan: %v %v", st, err)
	}
	if got.Request.SQuery != nil || got.SampleIDs != nil || got.Summary != p.Summary || !got.ExpiresAt.Equal(p.ExpiresAt) {
		t.Errorf("tombstone %+v", got)
	}
	if _, _, err := s.Claim(ctx, p.ID); err == nil {
		t.Error("claimed a tombstone")
	}
	clock.Advance(memoryGrace + time.Second)
	s.tick()
	if _, _, err := s.Load(ctx, p.ID); err != ErrPlanNotFound {
		t.Errorf("after the grace: %v", err)
	}
	s.mu.Lock()
	stopped := s.timer == nil
	s.mu.Unlock()
	if !stopped {
		t.Error("the sweep timer runs on an empty store")
	}
}
