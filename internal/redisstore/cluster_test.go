package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/redisstore"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

// TestCluster: with cluster=true the store speaks to a Redis Cluster (a
// one-node cluster holding every slot; Redis applies the same-slot rule to
// it as to any cluster) and behaves as on one server.
func TestCluster(t *testing.T) {
	r := testkit.StartRedis(t, "--cluster-enabled", "yes")
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer admin.Close()
	if err := admin.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", "0", "16383").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, err := admin.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ok: %v %s", err, info)
		}
		time.Sleep(50 * time.Millisecond)
	}

	var stores []*redisstore.Store
	for range 3 {
		s, err := redisstore.Open(ctx, "redis://"+r.Addr()+"?cluster=true", redisstore.Options{})
		if err != nil {
			t.Fatalf("open cluster store: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}
	p := newPlan("cred_a", 10*time.Minute)
	if err := stores[0].Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won, inUse := 0, 0
	for i := range 30 {
		wg.Go(func() {
			_, st, err := stores[i%3].Claim(ctx, p.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, guards.ErrPlanNotAvailable) && st == guards.PlanClaimed:
				inUse++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if won != 1 || inUse != 29 {
		t.Fatalf("%d won, %d in use; want 1 and 29", won, inUse)
	}
	if err := stores[1].Finish(ctx, p.ID, guards.PlanConsumed); err != nil {
		t.Fatal(err)
	}
	wantState(t, stores[2], p.ID, guards.PlanConsumed)
	fresh, err := stores[0].Spend(ctx, "cred_a", "n1", time.Now().Add(time.Minute))
	if err != nil || !fresh {
		t.Fatalf("spend: %v %v", fresh, err)
	}
	if again, err := stores[2].Spend(ctx, "cred_a", "n1", time.Now().Add(time.Minute)); err != nil || again {
		t.Fatalf("replayed spend: %v %v", again, err)
	}
	// The plan caps' script touches two keys of the principal's slot, which
	// a cluster accepts (it answers CROSSSLOT to keys of two slots).
	for i, s := range stores {
		rv := guards.PlanReservation{Principal: "cred_a", ID: fmt.Sprintf("plan_%d", i), Bytes: 10,
			ExpiresAt: time.Now().Add(time.Minute), Now: time.Now(), MaxPlans: 2, MaxBytes: 1000}
		u, err := s.ReservePlan(ctx, rv)
		if err != nil || u.Admitted != (i < 2) {
			t.Fatalf("reservation %d on the cluster: %+v %v", i, u, err)
		}
	}
}
