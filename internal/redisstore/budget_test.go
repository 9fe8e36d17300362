package redisstore_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/redisstore"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

func reservation(principal string, bytes int64, now time.Time, ttl time.Duration) guards.PlanReservation {
	return guards.PlanReservation{Principal: principal, ID: "plan_" + rand.Text(), Bytes: bytes,
		ExpiresAt: now.Add(ttl), Now: now, MaxPlans: 3, MaxBytes: 1000}
}

func reserve(t *testing.T, s *redisstore.Store, r guards.PlanReservation) guards.PlanUsage {
	t.Helper()
	u, err := s.ReservePlan(context.Background(), r)
	if err != nil {
		t.Fatalf("reserve %s: %v", r.ID, err)
	}
	return u
}

// TestPlanCounterShared: two stores on one Redis (two replicas) fill one
// principal's caps together, by count and by bytes; other principals have
// their own; expired and unreserved plans free room.
func TestPlanCounterShared(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	a, b := open(t, r, redisstore.Options{}), open(t, r, redisstore.Options{})
	now := time.Now()

	tests := []struct {
		name     string
		bytes    int64
		maxPlans int
		want     int // reservations admitted (alternating replicas) before the refusal
	}{
		{"count", 10, 3, 3},
		{"bytes", 300, 4, 3},     // 3×300 ≤ 1000 (MaxBytes) < 4×300
		{"big bytes", 400, 4, 2}, // 2×400 ≤ 1000 < 3×400
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			principal := fmt.Sprintf("cred_%d", i)
			stores := []*redisstore.Store{a, b}
			for n := range tc.want {
				rv := reservation(principal, tc.bytes, now, time.Minute)
				rv.MaxPlans = tc.maxPlans
				if u := reserve(t, stores[n%2], rv); !u.Admitted || u.Plans != n || u.Bytes != int64(n)*tc.bytes || !u.BytesPerPrincipal {
					t.Fatalf("reservation %d: %+v", n, u)
				}
			}
			for _, s := range stores {
				rv := reservation(principal, tc.bytes, now, time.Minute)
				rv.MaxPlans = tc.maxPlans
				if u := reserve(t, s, rv); u.Admitted || u.Plans != tc.want || u.Bytes != int64(tc.want)*tc.bytes {
					t.Fatalf("past the cap: %+v", u)
				}
			}
			// Another credential is not held back by this one's plans.
			if u := reserve(t, b, reservation(principal+"_other", tc.bytes, now, time.Minute)); !u.Admitted || u.Plans != 0 {
				t.Fatalf("another principal: %+v", u)
			}
		})
	}

	// Expiry frees room: cred_x holds an hour-long and a minute-long plan.
	long := reservation("cred_x", 10, now, time.Hour)
	long.MaxPlans = 2
	reserve(t, a, long)
	short := reservation("cred_x", 10, now, time.Minute)
	short.MaxPlans = 2
	reserve(t, b, short)
	full := reservation("cred_x", 10, now.Add(59*time.Second), time.Hour)
	full.MaxPlans = 2
	if u := reserve(t, a, full); u.Admitted {
		t.Fatalf("before the short plan expired: %+v", u)
	}
	later := reservation("cred_x", 10, now.Add(time.Minute), time.Hour)
	later.MaxPlans = 2
	if u := reserve(t, b, later); !u.Admitted || u.Plans != 1 || u.Bytes != 10 {
		t.Fatalf("once the short plan expired: %+v", u)
	}
	// Unreserving (a plan that was not saved) frees room on every replica.
	if err := a.UnreservePlan(ctx, "cred_x", later.ID); err != nil {
		t.Fatal(err)
	}
	again := reservation("cred_x", 10, now.Add(time.Minute), time.Hour)
	again.MaxPlans = 2
	if u := reserve(t, b, again); !u.Admitted || u.Plans != 1 {
		t.Fatalf("after unreserve: %+v", u)
	}

	// Both keys are in the principal's slot and expire after its plans.
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	for _, k := range []string{"bulkguard:{cred_x}:plans", "bulkguard:{cred_x}:planbytes"} {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour+2*time.Minute {
			t.Errorf("%s: ttl %v (%v), want a little over the last plan's hour", k, ttl, err)
		}
	}
}

// TestPlanCounterConcurrent: 60 previews at once on three replicas with
// room for 10 plans: exactly 10 are admitted.
func TestPlanCounterConcurrent(t *testing.T) {
	r := testkit.StartRedis(t)
	stores := []*redisstore.Store{open(t, r, redisstore.Options{}), open(t, r, redisstore.Options{}), open(t, r, redisstore.Options{})}
	now := time.Now()
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			rv := guards.PlanReservation{Principal: "cred_c", ID: fmt.Sprintf("plan_%d", i), Bytes: 1,
				ExpiresAt: now.Add(time.Minute), Now: now, MaxPlans: 10, MaxBytes: 1 << 20}
			u, err := stores[i%3].ReservePlan(context.Background(), rv)
			if err != nil {
				t.Error(err)
				return
			}
			if u.Admitted {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if admitted != 10 {
		t.Fatalf("%d admitted, want 10", admitted)
	}
}

// TestPlanCounterRedisDown: with Redis gone a reservation is a
// store_unavailable refusal, not an admission; when it is back the count
// starts again (this Redis keeps nothing on disk).
func TestPlanCounterRedisDown(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	s := open(t, r, redisstore.Options{Timeout: 500 * time.Millisecond})
	now := time.Now()
	reserve(t, s, reservation("cred_d", 10, now, time.Minute))
	r.Stop()
	_, err := s.ReservePlan(ctx, reservation("cred_d", 10, now, time.Minute))
	wantUnavailable(t, "reserve", err)
	wantUnavailable(t, "unreserve", s.UnreservePlan(ctx, "cred_d", "plan_1"))
	r.Restart()
	waitUp(t, s)
	if u := reserve(t, s, reservation("cred_d", 10, now, time.Minute)); !u.Admitted || u.Plans != 0 {
		t.Fatalf("after the restart: %+v", u)
	}
}
