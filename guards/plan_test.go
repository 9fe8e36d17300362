package guards

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMemoryStoreLifecycle(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	s := NewMemoryStoreClock(clock.Now)
	mk := func() *Plan {
		return &Plan{ID: newPlanID(), CreatedAt: clock.Now(), ExpiresAt: clock.Now().Add(10 * time.Minute), SampleIDs: []string{"lead_1"}}
	}
	tests := []struct {
		name  string
		steps func(t *testing.T, id string)
	}{
		{"claim release claim", func(t *testing.T, id string) {
			mustClaim(t, s, id)
			if err := s.Release(ctx, id); err != nil {
				t.Fatal(err)
			}
			mustClaim(t, s, id)
		}},
		{"consumed is final", func(t *testing.T, id string) {
			mustClaim(t, s, id)
			if err := s.Finish(ctx, id, PlanConsumed); err != nil {
				t.Fatal(err)
			}
			if _, st, err := s.Claim(ctx, id); !errors.Is(err, ErrPlanNotAvailable) || st != PlanConsumed {
				t.Fatalf("claim after consume: %v %v", st, err)
			}
			if err := s.Release(ctx, id); err == nil {
				t.Fatal("released a consumed plan")
			}
		}},
		{"discarded is final", func(t *testing.T, id string) {
			mustClaim(t, s, id)
			if err := s.Finish(ctx, id, PlanDiscarded); err != nil {
				t.Fatal(err)
			}
			if _, st, _ := s.Load(ctx, id); st != PlanDiscarded {
				t.Fatalf("state %v", st)
			}
		}},
		{"finish needs a claim and a final state", func(t *testing.T, id string) {
			if err := s.Finish(ctx, id, PlanConsumed); err == nil {
				t.Fatal("finished an unclaimed plan")
			}
			mustClaim(t, s, id)
			if err := s.Finish(ctx, id, PlanAvailable); err == nil {
				t.Fatal("finished to available")
			}
		}},
		{"copies are independent", func(t *testing.T, id string) {
			p, _, _ := s.Load(ctx, id)
			p.SampleIDs[0] = "changed"
			q, _, _ := s.Load(ctx, id)
			if q.SampleIDs[0] != "lead_1" {
				t.Fatal("caller changed the stored plan")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mk()
			if err := s.Save(ctx, p); err != nil {
				t.Fatal(err)
			}
			tc.steps(t, p.ID)
		})
	}
	if _, _, err := s.Load(ctx, "plan_nope"); !errors.Is(err, ErrPlanNotFound) {
		t.Errorf("unknown: %v", err)
	}
	if err := s.Save(ctx, &Plan{}); err == nil {
		t.Error("saved a plan without id")
	}

	// Expired plans are kept through the grace period, then swept.
	old := mk()
	mustSave(t, s, old)
	clock.Advance(10*time.Minute + memoryGrace - time.Second)
	mustSave(t, s, mk())
	if _, _, err := s.Load(ctx, old.ID); err != nil {
		t.Fatalf("swept too early: %v", err)
	}
	clock.Advance(2 * time.Second)
	mustSave(t, s, mk())
	if _, _, err := s.Load(ctx, old.ID); !errors.Is(err, ErrPlanNotFound) {
		t.Fatalf("not swept: %v", err)
	}
}

func mustSave(t *testing.T, s PlanStore, p *Plan) {
	t.Helper()
	if err := s.Save(context.Background(), p); err != nil {
		t.Fatalf("save: %v", err)
	}
}

func mustClaim(t *testing.T, s PlanStore, id string) {
	t.Helper()
	if _, st, err := s.Claim(context.Background(), id); err != nil || st != PlanClaimed {
		t.Fatalf("claim: %v %v", st, err)
	}
}

func TestMemoryStoreConcurrentClaim(t *testing.T) {
	s := NewMemoryStore()
	p := &Plan{ID: newPlanID(), ExpiresAt: time.Now().Add(time.Minute)}
	mustSave(t, s, p)
	const n = 50
	res := make(chan error, n)
	for range n {
		go func() {
			_, _, err := s.Claim(context.Background(), p.ID)
			res <- err
		}()
	}
	won := 0
	for range n {
		if err := <-res; err == nil {
			won++
		} else if !errors.Is(err, ErrPlanNotAvailable) {
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d claims won, want 1", won)
	}
}

func TestPlanIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := newPlanID()
		rest, ok := strings.CutPrefix(id, "plan_")
		if !ok || len(rest) < 22 || strings.Trim(rest, base62) != "" {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}
