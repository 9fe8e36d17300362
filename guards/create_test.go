package guards

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"
)

// TestClip: text is cut by runes, never inside a character, and marked.
func TestClip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "plan_x", 80, "plan_x"},
		{"exact", "abc", 3, "abc"},
		{"ascii cut", "abcdef", 3, "abc…"},
		{"multibyte counted as one", "ééééé", 3, "ééé…"},
		{"cjk", "削除削除削除", 2, "削除…"},
		{"emoji", "🙂🙂🙂", 1, "🙂…"},
		{"zero", "abc", 0, "…"},
		{"empty", "", 5, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Clip(c.in, c.n)
			if got != c.want {
				t.Fatalf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Clip(%q, %d) = %q is not valid UTF-8", c.in, c.n, got)
			}
		})
	}
	// A huge argument stays bounded.
	if got := Clip(strings.Repeat("x", 10<<20), 80); utf8.RuneCountInString(got) != 81 {
		t.Fatalf("10 MB clipped to %d runes, want 81", utf8.RuneCountInString(got))
	}
}

// cancelAwareStore is a PlanStore whose calls fail once their context is
// done, as any store behind a network (Redis, SQL) does; the in-memory
// store ignores contexts, so it could not show what a cancelled caller
// does to a plan.
type cancelAwareStore struct{ *MemoryStore }

func (s cancelAwareStore) Save(ctx context.Context, p *Plan) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.MemoryStore.Save(ctx, p)
}

func (s cancelAwareStore) Load(ctx context.Context, id string) (*Plan, PlanState, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return s.MemoryStore.Load(ctx, id)
}

func (s cancelAwareStore) Claim(ctx context.Context, id string) (*Plan, PlanState, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return s.MemoryStore.Claim(ctx, id)
}

func (s cancelAwareStore) Release(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.MemoryStore.Release(ctx, id)
}

func (s cancelAwareStore) Finish(ctx context.Context, id string, final PlanState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.MemoryStore.Finish(ctx, id, final)
}

// TestCreateCancelledMidway: the caller's context is cancelled while Create
// waits on Close (during the recount, and while the create is in flight).
// The plan must never be left claimed: released when nothing was sent (the
// same confirmation then works), consumed once the create was sent.
func TestCreateCancelledMidway(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		path   string
		// passOn: the request reaches the sandbox before the caller gives
		// up (the create is made; its answer never arrives).
		passOn bool
		want   PlanState
	}{
		{"during the recount", http.MethodPost, "/api/v1/data/search/", false, PlanAvailable},
		{"while the create is in flight", http.MethodPost, "/api/v1/bulk_action/delete/", true, PlanConsumed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			store := cancelAwareStore{NewMemoryStoreClock(h.clock.Now)}
			g, err := New(Config{Store: store, Audit: h.log, Environment: "sandbox", Now: h.clock.Now, Policy: Policy{Backup: BackupOff}})
			if err != nil {
				t.Fatal(err)
			}
			ids := h.addLeads("Cancelled", 3)
			p, err := g.Preview(context.Background(), h.cl, input(t, nameQuery("Cancelled"), ""))
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var hit atomic.Int32
			intercept := func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != tc.method || r.URL.Path != tc.path || hit.Add(1) > 1 {
					return false
				}
				if tc.passOn {
					h.sb.ServeHTTP(httptest.NewRecorder(), r)
				}
				cancel()
				<-r.Context().Done() // the guard's request is abandoned
				return true
			}
			h.intercept.Store(&intercept)
			_, err = g.Create(ctx, h.cl, p.PlanID, phrase(p))
			h.intercept.Store(nil)
			if hit.Load() == 0 {
				t.Fatalf("Create never reached %s %s (err %v)", tc.method, tc.path, err)
			}

			_, state, lerr := store.Load(context.Background(), p.PlanID)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if state != tc.want {
				t.Fatalf("after the caller cancelled, the plan is %s (Create said %v); want %s", state, err, tc.want)
			}
			if tc.want == PlanAvailable {
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("Create = %v, want an error wrapping context.Canceled", err)
				}
				if n := len(h.createBodies()); n != 0 {
					t.Fatalf("%d creates reached Close although the caller cancelled before sending", n)
				}
				// Released, so the same confirmation now goes through.
				ex, err := g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
				if err != nil {
					t.Fatalf("retry after the cancelled create: %v", err)
				}
				h.waitStatus(ex.Job.ID, JobDone)
			}
			h.waitGone(ids)
		})
	}
}
