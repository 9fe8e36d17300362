package guards

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
)

func TestMemoryNonces(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		// spends run in order; want is what the last one reports.
		run  func(m *MemoryNonces, c *testkit.ManualClock) bool
		want bool
	}{
		{"fresh", func(m *MemoryNonces, c *testkit.ManualClock) bool {
			return spend(t, m, "cred_a", "n1", c.Now().Add(time.Minute))
		}, true},
		{"replayed", func(m *MemoryNonces, c *testkit.ManualClock) bool {
			spend(t, m, "cred_a", "n1", c.Now().Add(time.Minute))
			return spend(t, m, "cred_a", "n1", c.Now().Add(time.Minute))
		}, false},
		{"same nonce, other principal", func(m *MemoryNonces, c *testkit.ManualClock) bool {
			spend(t, m, "cred_a", "n1", c.Now().Add(time.Minute))
			return spend(t, m, "cred_b", "n1", c.Now().Add(time.Minute))
		}, true},
		{"still spent within the grace after expiry", func(m *MemoryNonces, c *testkit.ManualClock) bool {
			spend(t, m, "cred_a", "n1", c.Now().Add(time.Minute))
			c.Advance(time.Minute + NonceGrace - time.Second)
			return spend(t, m, "cred_a", "n1", c.Now())
		}, false},
		{"forgotten after expiry and grace", func(m *MemoryNonces, c *testkit.ManualClock) bool {
			spend(t, m, "cred_a", "n1", c.Now().Add(time.Minute))
			c.Advance(time.Minute + NonceGrace + time.Second)
			if len(m.used) != 1 {
				t.Fatalf("before the sweep %d nonces are kept, want 1", len(m.used))
			}
			ok := spend(t, m, "cred_a", "n2", c.Now().Add(time.Minute))
			if len(m.used) != 1 {
				t.Fatalf("after the sweep %d nonces are kept, want 1 (n1 swept)", len(m.used))
			}
			return ok
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := testkit.NewManualClock(start)
			m := NewMemoryNonces(c.Now)
			if got := tc.run(m, c); got != tc.want {
				t.Fatalf("last Spend = %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("empty nonce is an error", func(t *testing.T) {
		if _, err := NewMemoryNonces(nil).Spend(ctx, "cred_a", "", time.Now()); err == nil {
			t.Fatal("Spend of an empty nonce succeeded")
		}
	})

	t.Run("concurrent spends: exactly one fresh", func(t *testing.T) {
		m := NewMemoryNonces(nil)
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for range 50 {
			wg.Go(func() {
				ok, err := m.Spend(ctx, "cred_a", "n1", time.Now().Add(time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if fresh != 1 {
			t.Fatalf("%d of 50 concurrent spends were fresh, want 1", fresh)
		}
	})
}

func spend(t *testing.T, m *MemoryNonces, principal, nonce string, until time.Time) bool {
	t.Helper()
	ok, err := m.Spend(context.Background(), principal, nonce, until)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}
