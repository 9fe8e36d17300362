package guards

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/sandbox"
)

// hangUp closes the connection of w without an answer.
func hangUp(t *testing.T, w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	conn.Close()
}

// Two processes with one key preview the same query and results_limit.
// The first one's create makes a job but its answer is lost; before it
// reads the job list, the second process creates the same delete. The
// first must not adopt (report, audit, later pause) the second's job: it
// reports both as candidates, adopts neither and keeps its plan consumed.
func TestReconcileTwoProcessesOneKey(t *testing.T) {
	// Slow deletes keep both jobs running.
	h := newHarness(t, harnessOpts{sandbox: sandbox.Options{DeleteRate: 1, BatchSize: 1}})
	ctx := context.Background()
	// Process B: its own guard and a client straight to the sandbox.
	direct := httptest.NewServer(h.sb)
	t.Cleanup(direct.Close)
	clB, err := closeapi.New(closeapi.Options{BaseURL: direct.URL + "/api/v1", APIKey: sandbox.DemoAPIKey})
	if err != nil {
		t.Fatal(err)
	}
	gB := h.newGuard(Policy{})

	h.addLeads("Duocorp", 3)
	in := input(t, nameQuery("Duocorp"), newestFirst)
	pA := h.preview(in)
	pB, err := gB.Preview(ctx, clB, in)
	if err != nil || !pB.Executable {
		t.Fatalf("B's preview: %+v %v", pB, err)
	}

	var (
		once atomic.Bool
		bJob atomic.Pointer[closeapi.BulkDelete]
	)
	lose := func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/bulk_action/delete/" || !once.CompareAndSwap(false, true) {
			return false
		}
		h.sb.ServeHTTP(httptest.NewRecorder(), r) // A's job is made
		ex, err := gB.Create(ctx, clB, pB.PlanID, phrase(pB))
		if err != nil {
			t.Errorf("B's create: %v", err)
		} else {
			bJob.Store(ex.Job)
		}
		hangUp(t, w) // A never hears of its job
		return true
	}
	h.intercept.Store(&lose)

	_, err = h.g.Create(ctx, h.cl, pA.PlanID, phrase(pA))
	var unc *UncertainError
	if !errors.As(err, &unc) {
		t.Fatalf("A's create: want UncertainError, got %v", err)
	}
	jobs := h.sb.Jobs()
	if len(jobs) != 2 || bJob.Load() == nil {
		t.Fatalf("%d jobs, B's %v", len(jobs), bJob.Load())
	}
	want := []string{jobs[0].ID, jobs[1].ID}
	got := slices.Clone(unc.Candidates)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("candidates %v, want both jobs %v", unc.Candidates, want)
	}
	for _, id := range want {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("the error does not name candidate %s: %v", id, err)
		}
	}
	if _, isRefusal := AsRefusal(err); isRefusal {
		t.Error("an uncertain outcome must not claim that nothing was deleted")
	}
	var rec *AuditRecord
	for _, r := range h.audit() {
		if r.Event == EventCreate && r.PlanID == pA.PlanID {
			rec = &r
		}
	}
	if rec == nil || rec.Outcome != "uncertain" || rec.JobID != "" {
		t.Fatalf("A's create record %+v", rec)
	}
	slices.Sort(rec.CandidateJobIDs)
	if !slices.Equal(rec.CandidateJobIDs, want) {
		t.Errorf("audited candidates %v, want %v", rec.CandidateJobIDs, want)
	}
	// The plan stays consumed: nobody sends it again.
	_, err = h.g.Create(ctx, h.cl, pA.PlanID, phrase(pA))
	wantRefusal(t, err, CodePlanConsumed)
	// B's job was left alone.
	if j := h.waitStatus(bJob.Load().ID, "created", "loading", "processing", "done"); j.StatusString() == "paused" {
		t.Error("B's job was paused")
	}
}

// A 429 on the create means Close did not act: the guard waits for the
// reset (bounded) and sends the create once more; when that is 429 too, or
// the reset is too far, the plan is released (not consumed) and the
// refusal says when to try again.
func TestCreateRateLimited(t *testing.T) {
	tests := []struct {
		name       string
		limited    int32  // how many creates get 429
		retryAfter string // the 429's Retry-After
		creates    int    // creates that reach the front
		code       string // refusal, "" = a job
	}{
		{"one 429, then the repeat starts the job", 1, "1", 2, ""},
		{"429 twice: released", 2, "1", 2, CodeRateLimited},
		{"reset beyond the bound: released at once", 1, "30", 1, CodeRateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			ctx := context.Background()
			h.addLeads("Ratecorp", 3)
			p := h.preview(input(t, nameQuery("Ratecorp"), ""))
			var left atomic.Int32
			left.Store(tc.limited)
			limit := func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || r.URL.Path != "/api/v1/bulk_action/delete/" || left.Add(-1) < 0 {
					return false
				}
				h.mu.Lock()
				h.creates = append(h.creates, []byte(`{}`))
				h.mu.Unlock()
				w.Header().Set("Retry-After", tc.retryAfter)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"error":"Rate limit exceeded."}`)
				return true
			}
			h.intercept.Store(&limit)
			ex, err := h.g.Create(ctx, h.cl, p.PlanID, phrase(p))
			h.mu.Lock()
			creates := len(h.creates)
			h.mu.Unlock()
			if creates != tc.creates {
				t.Errorf("%d creates reached the front, want %d", creates, tc.creates)
			}
			_, state, lerr := h.g.store.Load(ctx, p.PlanID)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tc.code == "" {
				if err != nil || ex.Job == nil {
					t.Fatalf("create: %v", err)
				}
				if state != PlanConsumed || len(h.sb.Jobs()) != 1 {
					t.Errorf("plan %s, %d jobs", state, len(h.sb.Jobs()))
				}
				return
			}
			r := refusalOf(t, err, tc.code)
			if !strings.Contains(r.Next, "Wait") || !strings.Contains(r.Next, "same plan_id") {
				t.Errorf("refusal %q does not say when to retry", r.Error())
			}
			if state != PlanAvailable || len(h.sb.Jobs()) != 0 {
				t.Fatalf("plan %s, %d jobs: a 429 must not use the plan up", state, len(h.sb.Jobs()))
			}
			// Once Close lets it through, the same plan runs.
			h.intercept.Store(nil)
			if _, err := h.g.Create(ctx, h.cl, p.PlanID, phrase(p)); err != nil {
				t.Fatalf("retry: %v", err)
			}
		})
	}
}

// The sandbox's own rate limit at 2 requests a second, as the issue found
// it: preview, recount and create within a second. No plan is consumed
// without a job.
func TestCreateUnderSandboxRateLimit(t *testing.T) {
	h := newHarness(t, harnessOpts{sandbox: sandbox.Options{RateLimit: 2}})
	ctx := context.Background()
	const plans = 2
	var consumed int
	for i := range plans {
		word := fmt.Sprintf("Limitedcorp%c", 'a'+i)
		h.addLeads(word, 2)
		p := h.preview(input(t, nameQuery(word), ""))
		_, err := h.g.Create(ctx, h.cl, p.PlanID, phrase(p))
		if err != nil {
			wantRefusal(t, err, CodeRateLimited)
		}
		_, state, lerr := h.g.store.Load(ctx, p.PlanID)
		if lerr != nil {
			t.Fatal(lerr)
		}
		if state == PlanConsumed {
			consumed++
		} else if err == nil || state != PlanAvailable {
			t.Errorf("plan %d: %s after %v", i, state, err)
		}
	}
	if jobs := len(h.sb.Jobs()); jobs != consumed {
		t.Fatalf("%d plans consumed, %d jobs", consumed, jobs)
	}
	if consumed == 0 {
		t.Fatal("no create got through the bounded wait")
	}
}
