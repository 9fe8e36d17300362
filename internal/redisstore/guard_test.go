package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/redisstore"
	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/schema"
)

// replicas is the sandbox as Close and two guards sharing one Redis and
// one seal key, as two bulkguard processes behind a load balancer would.
type replicas struct {
	t     *testing.T
	sb    *sandbox.Server
	cl    *closeapi.Client
	a, b  *guards.Guard
	redis *testkit.Redis
}

func newReplicas(t *testing.T) *replicas { return newReplicasWith(t, guards.Policy{}, nil) }

// newReplicasWith is newReplicas with a policy and a clock (nil → real
// time) for both guards and their stores.
func newReplicasWith(t *testing.T, policy guards.Policy, now func() time.Time) *replicas {
	t.Helper()
	sb, err := sandbox.New(sandbox.Options{EmptyOrg: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	// Bystanders: a test's few leads must not be every lead, which the
	// guard refuses as match_all (and beyond --max-share).
	for i := range 20 {
		sb.AddLead(sandbox.LeadSpec{Name: fmt.Sprintf("Bystander Holdings %d", i+1)})
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	cl, err := closeapi.New(closeapi.Options{BaseURL: srv.URL + "/api/v1", APIKey: sandbox.DemoAPIKey, HTTPClient: &http.Client{Timeout: 20 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	r := &replicas{t: t, sb: sb, cl: cl, redis: testkit.StartRedis(t)}
	key := []byte("0123456789abcdef0123456789abcdef")
	guard := func(name string) *guards.Guard {
		log, err := guards.OpenAuditLog(filepath.Join(t.TempDir(), name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = log.Close() })
		st := open(t, r.redis, redisstore.Options{Timeout: 500 * time.Millisecond, Now: now})
		policy.Backup = guards.BackupOff // the backup step has its own tests (internal/server)
		g, err := guards.New(guards.Config{Policy: policy, Store: st, Nonces: st, SealKey: key, Audit: log, Environment: "sandbox", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	r.a, r.b = guard("a"), guard("b")
	return r
}

// leads adds n leads named "<word> Testcorp <i>" and the query for them.
func (r *replicas) leads(word string, n int) ([]string, guards.PreviewInput) {
	r.t.Helper()
	var ids []string
	for i := range n {
		ids = append(ids, r.sb.AddLead(sandbox.LeadSpec{Name: fmt.Sprintf("%s Testcorp %d", word, i+1)}))
	}
	q := fmt.Sprintf(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},`+
		`"condition":{"type":"text","mode":"full_words","value":%q}}]}`, word)
	req, err := schema.Decode([]byte(q))
	if err != nil {
		r.t.Fatal(err)
	}
	return ids, guards.PreviewInput{Query: req.Query, Unrecognised: req.Unrecognised}
}

func (r *replicas) preview(g *guards.Guard, in guards.PreviewInput) *guards.Preview {
	r.t.Helper()
	p, err := g.Preview(context.Background(), r.cl, in)
	if err != nil {
		r.t.Fatalf("preview: %v", err)
	}
	if !p.Executable {
		r.t.Fatalf("preview not executable: %+v", p.Refusal)
	}
	return p
}

func confirm(p *guards.Preview) guards.Confirmation {
	return guards.Confirmation{By: guards.ConfirmedByPhrase, Phrase: p.ConfirmationPhrase}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	r, ok := guards.AsRefusal(err)
	if !ok || r.Code != code {
		t.Fatalf("%s: %v (%T), want refusal %s", what, err, err, code)
	}
}

// TestGuardsShareRedis: what one replica previews, the other executes,
// once; a confirmation opens once across both; with Redis down previews,
// creates and confirmations refuse and nothing reaches Close; when Redis is
// back both replicas work again.
func TestGuardsShareRedis(t *testing.T) {
	r := newReplicas(t)
	ctx := context.Background()

	_, in := r.leads("Alpha", 3)
	p := r.preview(r.a, in)
	if _, err := r.b.Create(ctx, r.cl, p.PlanID, confirm(p)); err != nil {
		t.Fatalf("create on B of A's plan: %v", err)
	}
	if n := len(r.sb.Jobs()); n != 1 {
		t.Fatalf("%d jobs after one create, want 1", n)
	}
	_, err := r.a.Create(ctx, r.cl, p.PlanID, confirm(p))
	wantCode(t, "replay on A of the plan B consumed", err, guards.CodePlanConsumed)

	_, in = r.leads("Bravo", 2)
	p = r.preview(r.b, in)
	pending := &guards.Pending{Purpose: guards.PurposeCreate, Target: p.PlanID, Phrase: p.ConfirmationPhrase, ExpiresAt: time.Now().Add(time.Minute)}
	tok, err := r.a.SealState(pending, r.cl.Principal())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.b.OpenState(context.Background(), tok, r.cl.Principal(), p.PlanID); err != nil {
		t.Fatalf("B opens A's sealed state: %v", err)
	}
	wantCode(t, "A opens the state B opened", r.a.OpenState(context.Background(), tok, r.cl.Principal(), p.PlanID), guards.CodeStateReplayed)

	// Redis goes away with a plan previewed and a state sealed.
	tok, err = r.b.SealState(pending, r.cl.Principal())
	if err != nil {
		t.Fatal(err)
	}
	r.redis.Stop()
	jobs := len(r.sb.Jobs())
	_, err = r.a.Create(ctx, r.cl, p.PlanID, confirm(p))
	wantCode(t, "create with Redis down", err, guards.CodeStoreUnavailable)
	wantCode(t, "open state with Redis down", r.a.OpenState(context.Background(), tok, r.cl.Principal(), p.PlanID), guards.CodeStoreUnavailable)
	_, err = r.b.Preview(ctx, r.cl, in)
	wantCode(t, "preview with Redis down", err, guards.CodeStoreUnavailable)
	if n := len(r.sb.Jobs()); n != jobs {
		t.Fatalf("%d jobs were started with Redis down", n-jobs)
	}

	r.redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.a.Preview(ctx, r.cl, in)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("preview did not recover within 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// This Redis keeps nothing on disk: the old plan is gone, so it can
	// only be refused as unknown, and a new preview works on either side.
	_, err = r.b.Create(ctx, r.cl, p.PlanID, confirm(p))
	wantCode(t, "create of a plan Redis lost", err, guards.CodePlanUnknown)
	p = r.preview(r.b, in)
	if _, err := r.a.Create(ctx, r.cl, p.PlanID, confirm(p)); err != nil {
		t.Fatalf("create after recovery: %v", err)
	}
	if n := len(r.sb.Jobs()); n != jobs+1 {
		t.Fatalf("%d jobs after recovery, want %d", n, jobs+1)
	}
}

// TestGuardsSharePlanCaps: the plan caps hold across replicas: previews on
// A and B fill one credential's cap together, and a preview on either is
// then refused as plans_full; expired plans free room; with Redis down a
// preview is refused as store_unavailable, and works again once it is back.
func TestGuardsSharePlanCaps(t *testing.T) {
	clock := &testkit.Clock{}
	r := newReplicasWith(t, guards.Policy{MaxPlansPerPrincipal: 3}, clock.Now)
	ctx := context.Background()
	_, in := r.leads("Capped", 2)
	for _, g := range []*guards.Guard{r.a, r.b, r.a} {
		r.preview(g, in)
	}
	for name, g := range map[string]*guards.Guard{"A": r.a, "B": r.b} {
		_, err := g.Preview(ctx, r.cl, in)
		wantCode(t, "fourth preview on "+name, err, guards.CodePlansFull)
		if !strings.Contains(err.Error(), "already holds 3 unexpired plans") {
			t.Errorf("refusal on %s: %v", name, err)
		}
	}

	clock.Advance(guards.DefaultPlanTTL)
	p := r.preview(r.b, in)
	r.preview(r.a, in)

	r.redis.Stop()
	jobs := len(r.sb.Jobs())
	_, err := r.a.Preview(ctx, r.cl, in)
	wantCode(t, "preview with Redis down", err, guards.CodeStoreUnavailable)
	if !strings.Contains(err.Error(), "Nothing was deleted") {
		t.Errorf("refusal %q does not say nothing was deleted", err)
	}
	if n := len(r.sb.Jobs()); n != jobs {
		t.Fatalf("%d jobs were started with Redis down", n-jobs)
	}
	r.redis.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := r.b.Preview(ctx, r.cl, in)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("preview did not recover within 10s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The restarted Redis kept nothing: the plan from before is unknown,
	// and the count started again.
	_, err = r.a.Create(ctx, r.cl, p.PlanID, confirm(p))
	wantCode(t, "create of a plan Redis lost", err, guards.CodePlanUnknown)
	r.preview(r.a, in)
	r.preview(r.b, in)
	_, err = r.a.Preview(ctx, r.cl, in)
	wantCode(t, "fourth preview after the restart", err, guards.CodePlansFull)
}

// TestGuardsPlanLeftClaimed: a replica that claimed a plan and never
// settled it (its claim's answer was lost, or its finish failed while
// Redis was down) leaves it claimed; a create on another replica is
// refused as plan_in_use without claiming that a create is running, and
// nothing reaches Close.
func TestGuardsPlanLeftClaimed(t *testing.T) {
	r := newReplicas(t)
	ctx := context.Background()
	_, in := r.leads("Stuck", 2)
	p := r.preview(r.a, in)
	lost := open(t, r.redis, redisstore.Options{})
	if _, _, err := lost.Claim(ctx, p.PlanID); err != nil {
		t.Fatal(err)
	}
	_, err := r.b.Create(ctx, r.cl, p.PlanID, confirm(p))
	wantCode(t, "create of a plan left claimed", err, guards.CodePlanInUse)
	for _, want := range []string{"may be executing it", "could not record its outcome", "until it expires at", "preview_bulk_delete again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
	if n := len(r.sb.Jobs()); n != 0 {
		t.Fatalf("%d jobs started", n)
	}
}

// TestOpenStateUsesCallerContext: the nonce spend runs under the caller's
// context: a call already cancelled is refused as store_unavailable
// without spending the nonce, so the same confirmation opens once the
// caller's context is live.
func TestOpenStateUsesCallerContext(t *testing.T) {
	r := newReplicas(t)
	_, in := r.leads("Ctx", 2)
	p := r.preview(r.a, in)
	pending := &guards.Pending{Purpose: guards.PurposeCreate, Target: p.PlanID, Phrase: p.ConfirmationPhrase, ExpiresAt: time.Now().Add(time.Minute)}
	tok, err := r.a.SealState(pending, r.cl.Principal())
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	wantCode(t, "open with a cancelled context", r.b.OpenState(cancelled, tok, r.cl.Principal(), p.PlanID), guards.CodeStoreUnavailable)
	if err := r.b.OpenState(context.Background(), tok, r.cl.Principal(), p.PlanID); err != nil {
		t.Fatalf("open with a live context after the cancelled one: %v", err)
	}
}
