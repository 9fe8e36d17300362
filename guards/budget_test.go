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
// stop counting, and a plan that was not saved can be unreserved.
func TestPlanBudget(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	b := newPlanBudget()
	reserve := func(b *planBudget, principal string, size int64, ttl time.Duration, at time.Time, maxBytes int64) (PlanUsage, string) {
		t.Helper()
		id := newPlanID()
		u, err := b.ReservePlan(ctx, PlanReservation{Principal: principal, ID: id, Bytes: size,
			ExpiresAt: now.Add(ttl), Now: at, MaxPlans: 2, MaxBytes: maxBytes})
		if err != nil {
			t.Fatal(err)
		}
		return u, id
	}
	for _, p := range []struct {
		principal string
		ttl       time.Duration
	}{{"a", time.Minute}, {"a", time.Hour}, {"b", time.Minute}} {
		if u, _ := reserve(b, p.principal, 100, p.ttl, now, 1<<20); !u.Admitted {
			t.Fatalf("reserve %s: %+v", p.principal, u)
		}
	}
	if u, _ := reserve(b, "a", 100, time.Minute, now, 1<<20); u.Admitted || u.Plans != 2 {
		t.Fatalf("third plan of a: %+v", u)
	}
	// One of a's plans expires: a has room for one more.
	later := now.Add(time.Minute)
	if u, _ := reserve(b, "a", 100, time.Hour, later, 1<<20); !u.Admitted {
		t.Fatalf("after expiry: %+v", u)
	}
	if u, _ := reserve(b, "a", 100, time.Hour, later, 1<<20); u.Admitted {
		t.Fatal("a over its cap again")
	}
	u, id := reserve(b, "c", 100, time.Hour, later, 1<<20)
	if !u.Admitted {
		t.Fatal(u)
	}
	if err := b.UnreservePlan(ctx, "c", id); err != nil {
		t.Fatal(err)
	}
	if n := b.byPrincipal["c"]; n != 0 {
		t.Errorf("c still counts %d plans after UnreservePlan", n)
	}

	small := newPlanBudget()
	if u, _ := reserve(small, "a", 2<<10, time.Hour, now, 1<<10); u.Admitted || u.BytesPerPrincipal {
		t.Fatalf("a plan over the byte cap: %+v", u)
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
