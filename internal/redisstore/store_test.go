package redisstore_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/redisstore"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

// open connects a store to r; each call is another replica's store.
func open(t *testing.T, r *testkit.Redis, o redisstore.Options) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(context.Background(), r.URL(), o)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func newPlan(principal string, ttl time.Duration) *guards.Plan {
	now := time.Now().UTC().Truncate(time.Second)
	limit := 3
	return &guards.Plan{
		ID:          "plan_" + rand.Text(),
		Principal:   principal,
		Environment: "sandbox",
		ObjectType:  "lead",
		Request: closeapi.BulkDeleteRequest{
			SQuery:       json.RawMessage(`{"query":{"type":"object_type","object_type":"lead"}}`),
			Sort:         json.RawMessage(`[]`),
			ResultsLimit: &limit,
		},
		Summary:     "leads named Acme",
		QueryDigest: "sha256:00",
		Total:       3,
		WillDelete:  3,
		SampleIDs:   []string{"lead_1", "lead_2", "lead_3"},
		Sample:      []closeapi.SampleItem{{ID: "lead_1", DisplayName: "Acme 1"}},
		Executable:  true,
		Phrase:      "DELETE 3 LEADS",
		CreatedAt:   now,
		ExpiresAt:   now.Add(ttl),
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantState(t *testing.T, s *redisstore.Store, id string, want guards.PlanState) {
	t.Helper()
	_, st, err := s.Load(context.Background(), id)
	if err != nil {
		t.Fatalf("load %s: %v", id, err)
	}
	if st != want {
		t.Fatalf("plan %s is %s, want %s", id, st, want)
	}
}

func wantUnavailable(t *testing.T, what string, err error) {
	t.Helper()
	r, ok := guards.AsRefusal(err)
	if !ok || r.Code != guards.CodeStoreUnavailable {
		t.Fatalf("%s with Redis unavailable: %v (%T), want a %s refusal", what, err, err, guards.CodeStoreUnavailable)
	}
}

func TestPlans(t *testing.T) {
	r := testkit.StartRedis(t)
	a, b := open(t, r, redisstore.Options{}), open(t, r, redisstore.Options{})
	ctx := context.Background()

	t.Run("saved on one replica, loaded intact on another", func(t *testing.T) {
		p := newPlan("cred_aaaaaaaaaaaaaaaa", 10*time.Minute)
		if err := a.Save(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, st, err := b.Load(ctx, p.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st != guards.PlanAvailable {
			t.Fatalf("state %s, want available", st)
		}
		if g, w := mustJSON(t, got), mustJSON(t, p); g != w {
			t.Fatalf("loaded plan differs:\n got %s\nwant %s", g, w)
		}
	})

	t.Run("duplicate id is refused", func(t *testing.T) {
		p := newPlan("cred_aaaaaaaaaaaaaaaa", time.Minute)
		if err := a.Save(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := b.Save(ctx, p); err == nil {
			t.Fatal("second Save of one id succeeded")
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		for name, err := range map[string]error{
			"load":    second(a.Load(ctx, "plan_nope")),
			"claim":   second(a.Claim(ctx, "plan_nope")),
			"release": a.Release(ctx, "plan_nope"),
			"finish":  a.Finish(ctx, "plan_nope", guards.PlanConsumed),
		} {
			if !errors.Is(err, guards.ErrPlanNotFound) {
				t.Errorf("%s of an unknown plan: %v, want ErrPlanNotFound", name, err)
			}
		}
	})

	tests := []struct {
		name string
		// run acts on a fresh plan with the two replicas' stores and
		// returns the state both must then see.
		run func(t *testing.T, id string) guards.PlanState
	}{
		{"claimed on A is in use on B", func(t *testing.T, id string) guards.PlanState {
			claim(t, a, id)
			if _, st, err := b.Claim(ctx, id); !errors.Is(err, guards.ErrPlanNotAvailable) || st != guards.PlanClaimed {
				t.Fatalf("claim on B: %v %s, want ErrPlanNotAvailable claimed", err, st)
			}
			return guards.PlanClaimed
		}},
		{"released on A is claimable on B", func(t *testing.T, id string) guards.PlanState {
			claim(t, a, id)
			if err := a.Release(ctx, id); err != nil {
				t.Fatal(err)
			}
			claim(t, b, id)
			return guards.PlanClaimed
		}},
		{"consumed on A cannot be claimed on B", func(t *testing.T, id string) guards.PlanState {
			claim(t, a, id)
			if err := a.Finish(ctx, id, guards.PlanConsumed); err != nil {
				t.Fatal(err)
			}
			if _, st, err := b.Claim(ctx, id); !errors.Is(err, guards.ErrPlanNotAvailable) || st != guards.PlanConsumed {
				t.Fatalf("claim on B: %v %s, want ErrPlanNotAvailable consumed", err, st)
			}
			if err := b.Release(ctx, id); err == nil {
				t.Fatal("B released a consumed plan")
			}
			return guards.PlanConsumed
		}},
		{"discarded is final", func(t *testing.T, id string) guards.PlanState {
			claim(t, b, id)
			if err := b.Finish(ctx, id, guards.PlanDiscarded); err != nil {
				t.Fatal(err)
			}
			if err := a.Finish(ctx, id, guards.PlanConsumed); err == nil {
				t.Fatal("A finished a discarded plan")
			}
			return guards.PlanDiscarded
		}},
		{"release or finish without a claim is an error", func(t *testing.T, id string) guards.PlanState {
			if err := a.Release(ctx, id); err == nil {
				t.Fatal("released an available plan")
			}
			if err := a.Finish(ctx, id, guards.PlanConsumed); err == nil {
				t.Fatal("finished an available plan")
			}
			return guards.PlanAvailable
		}},
		{"finish to a non-final state is an error", func(t *testing.T, id string) guards.PlanState {
			claim(t, a, id)
			if err := a.Finish(ctx, id, guards.PlanAvailable); err == nil {
				t.Fatal("Finish(PlanAvailable) succeeded")
			}
			return guards.PlanClaimed
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newPlan("cred_aaaaaaaaaaaaaaaa", 10*time.Minute)
			if err := a.Save(ctx, p); err != nil {
				t.Fatal(err)
			}
			want := tc.run(t, p.ID)
			wantState(t, a, p.ID, want)
			wantState(t, b, p.ID, want)
		})
	}
}

func second[T any, S any](_ T, _ S, err error) error { return err }

func claim(t *testing.T, s *redisstore.Store, id string) {
	t.Helper()
	p, st, err := s.Claim(context.Background(), id)
	if err != nil || st != guards.PlanClaimed || p == nil || p.ID != id {
		t.Fatalf("claim %s: %v %s %v", id, err, st, p)
	}
}

// TestClaimConcurrent: 50 goroutines on five replicas' stores claim one
// plan at once; exactly one wins and the rest see it in use.
func TestClaimConcurrent(t *testing.T) {
	r := testkit.StartRedis(t)
	var stores []*redisstore.Store
	for range 5 {
		stores = append(stores, open(t, r, redisstore.Options{}))
	}
	ctx := context.Background()
	for round := range 5 {
		p := newPlan("cred_aaaaaaaaaaaaaaaa", 10*time.Minute)
		if err := stores[0].Save(ctx, p); err != nil {
			t.Fatal(err)
		}
		var (
			wg         sync.WaitGroup
			mu         sync.Mutex
			won, inUse int
			start      = make(chan struct{})
			unexpected []error
		)
		for i := range 50 {
			wg.Go(func() {
				<-start
				_, st, err := stores[i%len(stores)].Claim(ctx, p.ID)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, guards.ErrPlanNotAvailable) && st == guards.PlanClaimed:
					inUse++
				default:
					unexpected = append(unexpected, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if won != 1 || inUse != 49 || len(unexpected) > 0 {
			t.Fatalf("round %d: %d won, %d in use, other errors %v; want 1 and 49", round, won, inUse, unexpected)
		}
	}
}

// TestPlanExpires: Redis forgets a plan (and its owner key) once it has
// expired and the grace has passed, and keeps it until then.
func TestPlanExpires(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	s := open(t, r, redisstore.Options{Grace: 300 * time.Millisecond})
	p := newPlan("cred_aaaaaaaaaaaaaaaa", 0)
	p.ExpiresAt = time.Now().Add(200 * time.Millisecond)
	if err := s.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	wantState(t, s, p.ID, guards.PlanAvailable)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys after one Save: %v, want the plan and its owner", keys)
	}
	for _, k := range keys {
		ttl, err := rdb.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 || ttl > 500*time.Millisecond {
			t.Errorf("%s has TTL %s, want (0, 500ms]: expiry 200ms + grace 300ms", k, ttl)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := s.Load(ctx, p.ID)
		if errors.Is(err, guards.ErrPlanNotFound) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("plan still there 5s after expiry and grace")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// EXISTS, not DBSIZE: Redis reclaims expired keys lazily, and EXISTS
	// is what tells whether one is still there for a reader.
	if n, err := rdb.Exists(ctx, keys...).Result(); err != nil || n != 0 {
		t.Fatalf("after expiry %d of %v still exist (%v), want none", n, keys, err)
	}
}

// TestKeysUseHashTags: everything of one principal is in that principal's
// cluster slot (the owner index aside, which is one key per plan).
func TestKeysUseHashTags(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	s := open(t, r, redisstore.Options{Prefix: "bg"})
	p := newPlan("cred_0123456789abcdef", time.Minute)
	if err := s.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Spend(ctx, p.Principal, "nonce1", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer rdb.Close()
	want := map[string]bool{
		"bg:{cred_0123456789abcdef}:plan:" + p.ID: true,
		"bg:{cred_0123456789abcdef}:nonce:nonce1": true,
		"bg:planowner:" + p.ID:                    true,
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %s", k)
		}
	}
}

func TestNonces(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	a, b := open(t, r, redisstore.Options{}), open(t, r, redisstore.Options{})
	until := time.Now().Add(time.Minute)
	tests := []struct {
		name  string
		first *redisstore.Store
		then  *redisstore.Store
		// principal of the second spend (the first is cred_a).
		principal string
		want      bool
	}{
		{"spent on A, replayed on B", a, b, "cred_a", false},
		{"spent on A, replayed on A", a, a, "cred_a", false},
		{"same nonce, other principal", a, b, "cred_b", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nonce := rand.Text()
			if ok, err := tc.first.Spend(ctx, "cred_a", nonce, until); err != nil || !ok {
				t.Fatalf("first spend: %v %v", ok, err)
			}
			ok, err := tc.then.Spend(ctx, tc.principal, nonce, until)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want {
				t.Fatalf("second spend fresh = %v, want %v", ok, tc.want)
			}
		})
	}

	t.Run("50 concurrent spends over two replicas: one fresh", func(t *testing.T) {
		nonce := rand.Text()
		var wg sync.WaitGroup
		var mu sync.Mutex
		fresh := 0
		for i := range 50 {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				ok, err := s.Spend(ctx, "cred_a", nonce, until)
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
			t.Fatalf("%d fresh spends, want 1", fresh)
		}
	})

	t.Run("kept until the state expires plus the grace", func(t *testing.T) {
		nonce := rand.Text()
		if _, err := a.Spend(ctx, "cred_a", nonce, time.Now().Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr()})
		defer rdb.Close()
		ttl, err := rdb.PTTL(ctx, "bulkguard:{cred_a}:nonce:"+nonce).Result()
		if err != nil {
			t.Fatal(err)
		}
		if lo, hi := 2*time.Minute+guards.NonceGrace-5*time.Second, 2*time.Minute+guards.NonceGrace; ttl < lo || ttl > hi {
			t.Fatalf("nonce TTL %s, want within [%s, %s]", ttl, lo, hi)
		}
	})
}

// TestRedisRestart: with Redis gone every call refuses with
// store_unavailable within the timeout; once it is back the stores work
// again without being reopened. Redis here keeps nothing on disk, so what
// it held before is gone: the old plan is unknown, never executable.
func TestRedisRestart(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	o := redisstore.Options{Timeout: 500 * time.Millisecond}
	a, b := open(t, r, o), open(t, r, o)
	old := newPlan("cred_a", 10*time.Minute)
	if err := a.Save(ctx, old); err != nil {
		t.Fatal(err)
	}

	r.Stop()
	p := newPlan("cred_a", 10*time.Minute)
	calls := map[string]func() error{
		"save":    func() error { return a.Save(ctx, p) },
		"load":    func() error { return second(b.Load(ctx, old.ID)) },
		"claim":   func() error { return second(b.Claim(ctx, old.ID)) },
		"release": func() error { return b.Release(ctx, old.ID) },
		"finish":  func() error { return b.Finish(ctx, old.ID, guards.PlanConsumed) },
		"spend":   func() error { _, err := a.Spend(ctx, "cred_a", "n", time.Now()); return err },
		"ping":    func() error { return a.Ping(ctx) },
	}
	for name, call := range calls {
		wantUnavailable(t, name, call())
	}

	r.Restart()
	waitUp(t, a)
	waitUp(t, b)
	if _, _, err := b.Load(ctx, old.ID); !errors.Is(err, guards.ErrPlanNotFound) {
		t.Fatalf("plan saved before the restart: %v, want ErrPlanNotFound", err)
	}
	if err := a.Save(ctx, p); err != nil {
		t.Fatalf("save after recovery: %v", err)
	}
	claim(t, b, p.ID)
	if err := b.Finish(ctx, p.ID, guards.PlanConsumed); err != nil {
		t.Fatal(err)
	}
	wantState(t, a, p.ID, guards.PlanConsumed)
	if ok, err := a.Spend(ctx, "cred_a", "n", time.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("spend after recovery: %v %v", ok, err)
	}
}

// waitUp polls until the store answers again: go-redis drops the dead
// connections and dials new ones by itself.
func waitUp(t *testing.T, s *redisstore.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.Ping(context.Background())
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover within 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSlowRedis: a Redis that stops answering (CLIENT PAUSE) makes calls
// refuse after the store's timeout instead of hanging, and they work again
// when it answers.
func TestSlowRedis(t *testing.T) {
	r := testkit.StartRedis(t)
	ctx := context.Background()
	s := open(t, r, redisstore.Options{Timeout: 300 * time.Millisecond})
	p := newPlan("cred_a", 10*time.Minute)
	if err := s.Save(ctx, p); err != nil {
		t.Fatal(err)
	}
	admin := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer admin.Close()
	if err := admin.Do(ctx, "CLIENT", "PAUSE", "2000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Load(ctx, p.ID)
	wantUnavailable(t, "load", err)
	_, _, err = s.Claim(ctx, p.ID)
	wantUnavailable(t, "claim", err)
	if err := admin.Do(ctx, "CLIENT", "UNPAUSE").Err(); err != nil {
		t.Fatal(err)
	}
	waitUp(t, s)
	// The claim reached Redis and only its answer is missing: Redis may
	// still run it once unpaused. Then the plan stays in use until it
	// expires, which deletes nothing; it must never be anything else.
	_, st, err := s.Load(ctx, p.ID)
	if err != nil || (st != guards.PlanAvailable && st != guards.PlanClaimed) {
		t.Fatalf("after the pause: %v %s, want available or claimed", err, st)
	}
	q := newPlan("cred_a", 10*time.Minute)
	if err := s.Save(ctx, q); err != nil {
		t.Fatal(err)
	}
	claim(t, s, q.ID)
}

func TestOpenRejectsBadURL(t *testing.T) {
	_, err := redisstore.Open(context.Background(), "http://user:s3cret@example.com", redisstore.Options{})
	if err == nil {
		t.Fatal("Open accepted an http URL")
	}
	if s := err.Error(); s == "" || strings.Contains(s, "s3cret") {
		t.Fatalf("error %q leaks the password or says nothing", s)
	}
}
