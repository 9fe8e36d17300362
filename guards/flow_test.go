package guards

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/sandbox"
)

// The whole path: preview, confirm, create; the job appears in the sandbox
// and deletes exactly the previewed leads. Preview costs one Close request
// and create two (recount, create): the API-budget floor.
func TestFullFlow(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	targets := h.addLeads("Zyxwvu", 5)
	others := h.addLeads("Keepme", 7)
	before := h.sb.NumLeads()

	h.sb.ResetRequests()
	p := h.preview(input(t, nameQuery("Zyxwvu"), newestFirst))
	// One search for the count, sample and ids; one for every lead of
	// the organization (org_total).
	if n := h.requests(); n != 2 {
		t.Errorf("preview made %d Close requests, want 2", n)
	}
	if !p.Executable || p.Refusal != nil {
		t.Fatalf("not executable: %+v", p.Refusal)
	}
	if p.Total != 5 || p.WillDelete != 5 || p.ObjectType != "lead" || p.Environment != "sandbox" {
		t.Fatalf("preview %+v", p)
	}
	if p.ConfirmationPhrase != "DELETE 5 LEADS" {
		t.Errorf("phrase %q", p.ConfirmationPhrase)
	}
	if !strings.HasPrefix(p.PlanID, "plan_") || len(p.PlanID) < len("plan_")+22 {
		t.Errorf("plan id %q", p.PlanID)
	}
	if !strings.HasPrefix(p.QueryDigest, "sha256:") || p.Summary == "" {
		t.Errorf("digest %q summary %q", p.QueryDigest, p.Summary)
	}
	if !p.ExpiresAt.Equal(h.clock.Now().Add(DefaultPlanTTL)) {
		t.Errorf("expires %v", p.ExpiresAt)
	}
	// Newest first: the sample is the targets in reverse creation order.
	var sample []string
	for _, s := range p.Sample {
		sample = append(sample, s.ID)
	}
	want := slices.Clone(targets)
	slices.Reverse(want)
	if !slices.Equal(sample, want) {
		t.Errorf("sample %v, want %v", sample, want)
	}

	pending, err := h.g.BeginCreate(ctx, h.cl, p.PlanID)
	if err != nil {
		t.Fatal(err)
	}
	if pending.Phrase != p.ConfirmationPhrase || pending.Target != p.PlanID || pending.Purpose != PurposeCreate ||
		!strings.Contains(pending.Message, "cannot be undone") || !strings.Contains(pending.Message, "Zyxwvu Testcorp 5") {
		t.Errorf("pending %+v", pending)
	}
	if n := h.requests(); n != 2 {
		t.Errorf("BeginCreate reached Close (%d requests so far, want 2)", n)
	}

	h.sb.ResetRequests()
	ex, err := h.g.Create(ctx, h.cl, p.PlanID, phrase(p))
	if err != nil {
		t.Fatal(err)
	}
	// The recount (with the ids), the job list before sending (so that a
	// lost answer is never matched to an older job), the create.
	if n := h.requests(); n != 3 {
		t.Errorf("create made %d Close requests, want 3", n)
	}
	if ex.Job == nil || !strings.HasPrefix(ex.Job.ID, "bulkdelete_") {
		t.Fatalf("job %+v", ex.Job)
	}
	wantReceipt := Receipt{PlanID: p.PlanID, Previewed: 5, Recounted: 5, ResultsLimitSent: 5, ConfirmedBy: ConfirmedByPhrase, AuditID: ex.Receipt.AuditID, IDsChecked: 5}
	if ex.Receipt != wantReceipt || ex.Receipt.AuditID == "" {
		t.Errorf("receipt %+v, want %+v", ex.Receipt, wantReceipt)
	}
	bodies := h.createBodies()
	if len(bodies) != 1 || bodies[0].ResultsLimit == nil || *bodies[0].ResultsLimit != 5 {
		t.Fatalf("creates sent: %+v", bodies)
	}
	if !sameQuery(bodies[0].SQuery, []byte(nameQuery("Zyxwvu"))) {
		t.Errorf("sent s_query %s", bodies[0].SQuery)
	}
	if jobs := h.sb.Jobs(); len(jobs) != 1 {
		t.Fatalf("%d jobs in the sandbox", len(jobs))
	}

	h.waitStatus(ex.Job.ID, "done")
	h.waitGone(targets)
	for _, id := range others {
		if !h.sb.HasLead(id) {
			t.Errorf("lead %s was not previewed but is gone", id)
		}
	}
	if got := h.sb.NumLeads(); got != before-5 {
		t.Errorf("%d leads left, want %d", got, before-5)
	}

	// The plan ran once.
	_, err = h.g.Create(ctx, h.cl, p.PlanID, phrase(p))
	wantRefusal(t, err, CodePlanConsumed)

	// Audit: preview, intent, outcome, refusal — with the fields, and never the key.
	recs := h.audit()
	byEvent := map[string]AuditRecord{}
	for _, r := range recs {
		if _, seen := byEvent[r.Event]; !seen {
			byEvent[r.Event] = r
		}
	}
	for _, ev := range []string{EventPreview, EventCreateIntent, EventCreate, EventRefusal} {
		r, ok := byEvent[ev]
		if !ok {
			t.Fatalf("no %s record in %+v", ev, recs)
		}
		if r.ID == "" || r.Time.IsZero() || r.PlanID != p.PlanID || r.Principal != h.cl.Principal() ||
			r.Environment != "sandbox" || r.ObjectType != "lead" || r.QueryDigest != p.QueryDigest || r.Summary != p.Summary ||
			r.Total == nil || *r.Total != 5 || r.WillDelete == nil || *r.WillDelete != 5 {
			t.Errorf("%s record incomplete: %+v", ev, r)
		}
	}
	if r := byEvent[EventCreate]; r.JobID != ex.Job.ID || r.Outcome != "sent" || r.ID != ex.Receipt.AuditID ||
		r.Recounted == nil || *r.Recounted != 5 || r.ResultsLimitSent == nil || *r.ResultsLimitSent != 5 {
		t.Errorf("create record %+v", r)
	}
	if r := byEvent[EventRefusal]; r.Code != CodePlanConsumed || !strings.Contains(r.Reason, "Nothing was deleted") {
		t.Errorf("refusal record %+v", r)
	}
	raw, _ := os.ReadFile(h.auditPath)
	if strings.Contains(string(raw), sandbox.DemoAPIKey) {
		t.Error("the audit log contains the API key")
	}
}

// results_limit sent = min(requested, will_delete), always set.
func TestResultsLimitSent(t *testing.T) {
	tests := []struct {
		name      string
		limit     *int
		matches   int
		wantWill  int
		wantSent  int
		wantGone  int
		wantPhras string
	}{
		{"no limit: the count", nil, 4, 4, 4, 4, "DELETE 4 LEADS"},
		{"limit below the count", ptr(2), 4, 2, 2, 2, "DELETE 2 LEADS"},
		{"limit above the count", ptr(10), 4, 4, 4, 4, "DELETE 4 LEADS"},
		{"limit of one", ptr(1), 3, 1, 1, 1, "DELETE 1 LEAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			ids := h.addLeads("Limitcorp", tc.matches)
			in := input(t, nameQuery("Limitcorp"), newestFirst)
			in.ResultsLimit = tc.limit
			p := h.preview(in)
			if p.Total != tc.matches || p.WillDelete != tc.wantWill || p.ConfirmationPhrase != tc.wantPhras {
				t.Fatalf("preview total %d will %d phrase %q", p.Total, p.WillDelete, p.ConfirmationPhrase)
			}
			if len(p.Sample) != tc.wantWill {
				t.Errorf("sample of %d, want the %d that would go", len(p.Sample), tc.wantWill)
			}
			ex, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			if err != nil {
				t.Fatal(err)
			}
			b := h.createBodies()
			if len(b) != 1 || b[0].ResultsLimit == nil || *b[0].ResultsLimit != tc.wantSent || ex.Receipt.ResultsLimitSent != tc.wantSent {
				t.Fatalf("sent %+v receipt %+v", b, ex.Receipt)
			}
			h.waitStatus(ex.Job.ID, "done")
			// Newest first: the newest wantGone go, exactly the sample.
			gone := ids[len(ids)-tc.wantGone:]
			h.waitGone(gone)
			for _, id := range ids[:len(ids)-tc.wantGone] {
				if !h.sb.HasLead(id) {
					t.Errorf("lead %s deleted beyond the limit", id)
				}
			}
			for _, s := range p.Sample {
				if !slices.Contains(gone, s.ID) {
					t.Errorf("sampled %s is not among the deleted", s.ID)
				}
			}
		})
	}
}

// Policy refusals are judged without Close: nothing reaches the sandbox.
func TestPreviewPolicyRefusals(t *testing.T) {
	tests := []struct {
		name    string
		policy  Policy
		in      func(t *testing.T) PreviewInput
		code    string
		pointer string
	}{
		{"no query", Policy{}, func(t *testing.T) PreviewInput { return PreviewInput{} }, CodeQueryMissing, "/s_query"},
		{"object type missing", Policy{}, func(t *testing.T) PreviewInput {
			return input(t, `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"x"}}`, "")
		}, CodeObjectTypeMissing, "/s_query"},
		{"object type not allowed", Policy{}, func(t *testing.T) PreviewInput {
			return input(t, `{"type":"and","queries":[{"type":"object_type","object_type":"opportunity"},{"type":"text","mode":"full_words","value":"x"}]}`, "")
		}, CodeObjectTypeNotAllowed, "/s_query/queries/0/object_type"},
		{"contact not allowed by policy", Policy{AllowedObjectTypes: []string{"lead"}}, func(t *testing.T) PreviewInput {
			return input(t, `{"type":"and","queries":[{"type":"object_type","object_type":"contact"},{"type":"text","mode":"full_words","value":"x"}]}`, "")
		}, CodeObjectTypeNotAllowed, "/s_query/queries/0/object_type"},
		{"match_all", Policy{}, func(t *testing.T) PreviewInput { return input(t, `{"type":"match_all"}`, "") }, CodeMatchAll, "/s_query"},
		{"empty and", Policy{}, func(t *testing.T) PreviewInput { return input(t, `{"type":"and","queries":[]}`, "") }, CodeMatchAll, "/s_query"},
		{"only object_type", Policy{}, func(t *testing.T) PreviewInput {
			return input(t, `{"type":"and","queries":[{"type":"object_type","object_type":"lead"}]}`, "")
		}, CodeMatchAll, "/s_query"},
		{"negated root", Policy{}, func(t *testing.T) PreviewInput { return input(t, "{\"negate\":true,"+nameQuery("x")[1:], "") }, CodeMatchAll, "/s_query"},
		{"match-all allowed still needs a type", Policy{AllowMatchAll: true}, func(t *testing.T) PreviewInput { return input(t, `{"type":"match_all"}`, "") }, CodeObjectTypeMissing, "/s_query"},
		{"results_limit zero", Policy{}, func(t *testing.T) PreviewInput {
			in := input(t, nameQuery("x"), "")
			in.ResultsLimit = ptr(0)
			return in
		}, CodeResultsLimitInvalid, "/results_limit"},
		{"results_limit zero in a wrapper", Policy{}, func(t *testing.T) PreviewInput {
			return input(t, `{"query":`+nameQuery("x")+`,"results_limit":0}`, "")
		}, CodeResultsLimitInvalid, "/results_limit"},
		{"results_limit negative", Policy{}, func(t *testing.T) PreviewInput {
			in := input(t, nameQuery("x"), "")
			in.ResultsLimit = ptr(-3)
			return in
		}, CodeResultsLimitInvalid, "/results_limit"},
		{"query and smart view", Policy{}, func(t *testing.T) PreviewInput {
			in := input(t, nameQuery("x"), "")
			in.SmartViewID = "save_abc"
			return in
		}, CodeQueryAndSmartView, "/smart_view_id"},
		{"smart view id malformed", Policy{}, func(t *testing.T) PreviewInput { return PreviewInput{SmartViewID: "lead_abc"} }, CodeSmartViewInvalidID, "/smart_view_id"},
		{"smart view id with a path", Policy{}, func(t *testing.T) PreviewInput { return PreviewInput{SmartViewID: "save_a/../../x"} }, CodeSmartViewInvalidID, "/smart_view_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{policy: tc.policy})
			h.sb.ResetRequests()
			p, err := h.g.Preview(context.Background(), h.cl, tc.in(t))
			if p != nil {
				t.Fatalf("got a preview %+v", p)
			}
			r := refusalOf(t, err, tc.code)
			if r.Pointer != tc.pointer {
				t.Errorf("pointer %q, want %q", r.Pointer, tc.pointer)
			}
			if !strings.Contains(r.Error(), "Nothing was deleted.") || r.Next == "" || r.Problem == "" {
				t.Errorf("refusal %q lacks a part", r.Error())
			}
			if n := h.requests(); n != 0 {
				t.Errorf("%d requests reached Close", n)
			}
			recs := h.audit()
			if len(recs) != 1 || recs[0].Event != EventRefusal || recs[0].Code != tc.code || recs[0].Principal != h.cl.Principal() {
				t.Errorf("audit %+v", recs)
			}
		})
	}
}

// Counted but not executable: the count is reported, a plan exists, and
// create repeats the reason.
func TestPreviewNotExecutable(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		leads  int
		limit  *int
		code   string
	}{
		{"over max", Policy{MaxObjects: 3}, 5, nil, CodeTooMany},
		{"nothing matches", Policy{}, 0, nil, CodeNothingToDelete},
		{"limit under max is fine", Policy{MaxObjects: 3}, 5, ptr(3), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{policy: tc.policy})
			h.addLeads("Overcorp", tc.leads)
			in := input(t, nameQuery("Overcorp"), "")
			in.ResultsLimit = tc.limit
			p := h.preview(in)
			if p.Total != tc.leads {
				t.Errorf("total %d, want %d", p.Total, tc.leads)
			}
			if tc.code == "" {
				if !p.Executable {
					t.Fatalf("not executable: %v", p.Refusal)
				}
				return
			}
			if p.Executable || p.Refusal == nil || p.Refusal.Code != tc.code || p.ConfirmationPhrase != "" || p.PlanID == "" {
				t.Fatalf("preview %+v refusal %+v", p, p.Refusal)
			}
			if tc.code == CodeTooMany && (!strings.Contains(p.Refusal.Next, "results_limit") || !strings.Contains(p.Refusal.Next, "conditions")) {
				t.Errorf("does not say how to narrow: %q", p.Refusal.Next)
			}
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, Confirmation{By: ConfirmedByPhrase, Phrase: "DELETE 5 LEADS"})
			r := refusalOf(t, err, CodePlanNotExecutable)
			if !strings.Contains(r.Problem, p.Refusal.Problem) {
				t.Errorf("create does not repeat the reason: %q", r.Problem)
			}
			if len(h.createBodies()) != 0 {
				t.Error("a create was sent")
			}
		})
	}
}

// Every create refusal, and what each leaves of the plan.
func TestCreateRefusals(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		// act runs after a 3-lead preview and returns Create's error.
		act  func(t *testing.T, h *harness, p *Preview) error
		code string
		// retry: what a correct create of the same plan gets afterwards
		// ("" = it succeeds: the refusal left the plan usable).
		retry string
	}{
		{"unknown plan", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.cl, "plan_doesnotexist0000000000", phrase(p))
			return err
		}, CodePlanUnknown, ""},
		{"expired plan", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			h.clock.Advance(DefaultPlanTTL + time.Second)
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			return err
		}, CodePlanExpired, CodePlanExpired},
		{"short TTL", Policy{PlanTTL: time.Minute}, func(t *testing.T, h *harness, p *Preview) error {
			h.clock.Advance(time.Minute)
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			return err
		}, CodePlanExpired, CodePlanExpired},
		{"foreign plan", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.client("someone-elses-key"), p.PlanID, phrase(p))
			return err
		}, CodePlanForeign, ""},
		{"other server's plan", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.newGuard(Policy{}).Create(context.Background(), h.cl, p.PlanID, phrase(p))
			return err
		}, CodePlanUnknown, ""},
		{"wrong phrase", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, Confirmation{By: ConfirmedByPhrase, Phrase: "DELETE 4 LEADS"})
			return err
		}, CodeConfirmationMismatch, ""},
		{"phrase in lower case", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, Confirmation{By: ConfirmedByPhrase, Phrase: strings.ToLower(p.ConfirmationPhrase)})
			return err
		}, CodeConfirmationMismatch, ""},
		{"no phrase", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, Confirmation{By: ConfirmedByPhrase})
			return err
		}, CodeConfirmationMissing, ""},
		{"unknown confirmation channel", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, Confirmation{By: "telepathy", Phrase: p.ConfirmationPhrase})
			return err
		}, CodeConfirmationInvalid, ""},
		{"phrase in elicit mode", Policy{Confirm: ConfirmElicit}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			return err
		}, CodeElicitationRequired, ""},
		{"form answer in phrase mode", Policy{Confirm: ConfirmPhrase}, func(t *testing.T, h *harness, p *Preview) error {
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, Confirmation{By: ConfirmedByElicitation, Phrase: p.ConfirmationPhrase})
			return err
		}, CodeConfirmationInvalid, ""},
		{"drift up", Policy{}, func(t *testing.T, h *harness, p *Preview) error {
			h.sb.AddLead(sandbox.LeadSpec{Name: "Driftcorp Testcorp late"})
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			return err
		}, CodeDriftUp, CodePlanStale},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{policy: tc.policy})
			h.addLeads("Driftcorp", 3)
			p := h.preview(input(t, nameQuery("Driftcorp"), ""))
			r := refusalOf(t, tc.act(t, h, p), tc.code)
			if !strings.Contains(r.Error(), "Nothing was deleted.") || r.Next == "" {
				t.Errorf("refusal %q lacks a part", r.Error())
			}
			if n := len(h.createBodies()); n != 0 {
				t.Fatalf("%d creates were sent", n)
			}
			if len(h.sb.Jobs()) != 0 {
				t.Fatal("a job exists")
			}
			// Correct confirmation of the same plan afterwards.
			conf := Confirmation{By: ConfirmedByElicitation, Phrase: p.ConfirmationPhrase}
			if tc.policy.Confirm == ConfirmPhrase {
				conf.By = ConfirmedByPhrase
			}
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, conf)
			if tc.retry == "" {
				if err != nil {
					t.Fatalf("retry: %v", err)
				}
				return
			}
			wantRefusal(t, err, tc.retry)
		})
	}
}

// Fewer matches at create than at preview are allowed; the limit sent is
// still the previewed count. None at all is refused.
func TestCreateFewerNow(t *testing.T) {
	tests := []struct {
		name    string
		takeNow int // how many of the 4 a first job deletes after the preview
		code    string
	}{
		{"fewer", 2, ""},
		{"none", 4, CodeNothingToDelete},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			ctx := context.Background()
			ids := h.addLeads("Shrinkcorp", 4)
			big := h.preview(input(t, nameQuery("Shrinkcorp"), newestFirst))
			in := input(t, nameQuery("Shrinkcorp"), newestFirst)
			in.ResultsLimit = ptr(tc.takeNow)
			small := h.preview(in)
			first, err := h.g.Create(ctx, h.cl, small.PlanID, phrase(small))
			if err != nil {
				t.Fatal(err)
			}
			h.waitStatus(first.Job.ID, "done")
			h.waitGone(ids[len(ids)-tc.takeNow:])

			ex, err := h.g.Create(ctx, h.cl, big.PlanID, phrase(big))
			if tc.code != "" {
				wantRefusal(t, err, tc.code)
				if n := len(h.createBodies()); n != 1 {
					t.Errorf("%d creates sent, want only the first", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ex.Receipt.Previewed != 4 || ex.Receipt.Recounted != 4-tc.takeNow || ex.Receipt.ResultsLimitSent != 4 {
				t.Errorf("receipt %+v", ex.Receipt)
			}
			h.waitStatus(ex.Job.ID, "done")
			h.waitGone(ids)
		})
	}
}

// Twenty concurrent creates of one plan start exactly one job.
func TestConcurrentCreate(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.addLeads("Racecorp", 3)
	p := h.preview(input(t, nameQuery("Racecorp"), ""))
	const n = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok       int
		refusals = map[string]int{}
	)
	for range n {
		wg.Go(func() {
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
				return
			}
			r, isRefusal := AsRefusal(err)
			if !isRefusal {
				t.Errorf("not a refusal: %v", err)
				return
			}
			refusals[r.Code]++
		})
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d creates succeeded, want 1 (refusals %v)", ok, refusals)
	}
	for code := range refusals {
		if code != CodePlanInUse && code != CodePlanConsumed {
			t.Errorf("unexpected refusal %s", code)
		}
	}
	if got := len(h.sb.Jobs()); got != 1 {
		t.Fatalf("%d jobs in the sandbox, want 1", got)
	}
	if got := len(h.createBodies()); got != 1 {
		t.Fatalf("%d creates reached Close, want 1", got)
	}
}

// A create whose answer is lost is found in the job list, never re-sent.
func TestAmbiguousCreate(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
		// want: "reconciled", "uncertain" or "failed"
		want string
		jobs int
	}{
		{"answer dropped after create (front)", func(h *harness) { h.dropCreate.Store(true) }, "reconciled", 1},
		{"answer dropped after create (sandbox knob)", func(h *harness) {
			h.sb.SetFaults(sandbox.Faults{DropAfterCreate: 1})
		}, "reconciled", 1},
		{"server error, no job", func(h *harness) { h.failCreate.Store(500) }, "uncertain", 0},
		{"gateway timeout, no job", func(h *harness) { h.failCreate.Store(504) }, "uncertain", 0},
		{"validation error", func(h *harness) { h.failCreate.Store(400) }, "failed", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			ctx := context.Background()
			h.addLeads("Lostcorp", 3)
			p := h.preview(input(t, nameQuery("Lostcorp"), ""))
			tc.setup(h)
			ex, err := h.g.Create(ctx, h.cl, p.PlanID, phrase(p))
			var unc *UncertainError
			switch tc.want {
			case "reconciled":
				if err != nil {
					t.Fatal(err)
				}
				jobs := h.sb.Jobs()
				if !ex.Receipt.Reconciled || ex.Job == nil || len(jobs) != 1 {
					t.Fatalf("execution %+v, %d jobs", ex, len(jobs))
				}
				list, _ := h.cl.ListBulkDeletes(ctx, 10, 0)
				if len(list.Data) != 1 || list.Data[0].ID != ex.Job.ID {
					t.Errorf("returned job %s, list %+v", ex.Job.ID, list.Data)
				}
			case "uncertain":
				if !errors.As(err, &unc) || unc.PlanID != p.PlanID || !strings.Contains(err.Error(), "list_bulk_deletes") {
					t.Fatalf("want UncertainError, got %v", err)
				}
				if _, isRefusal := AsRefusal(err); isRefusal {
					t.Fatal("an uncertain outcome must not claim that nothing was deleted")
				}
			case "failed":
				if err == nil || errors.As(err, &unc) {
					t.Fatalf("want a plain failure, got %v", err)
				}
				var ae *closeapi.APIError
				if !errors.As(err, &ae) || ae.StatusCode != 400 {
					t.Errorf("does not wrap the APIError: %v", err)
				}
			}
			if got := len(h.createBodies()); got != 1 {
				t.Fatalf("%d creates reached the front, want exactly 1 (never retried)", got)
			}
			if got := len(h.sb.Jobs()); got != tc.jobs {
				t.Fatalf("%d jobs, want %d", got, tc.jobs)
			}
			// Sent means consumed, whatever the answer.
			h.dropCreate.Store(false)
			h.failCreate.Store(0)
			_, err = h.g.Create(ctx, h.cl, p.PlanID, phrase(p))
			wantRefusal(t, err, CodePlanConsumed)

			var outcome string
			for _, r := range h.audit() {
				if r.Event == EventCreate {
					outcome = r.Outcome
				}
			}
			if outcome != tc.want {
				t.Errorf("audit outcome %q, want %q", outcome, tc.want)
			}
		})
	}
}

// An older job with the same query and limit is not taken for the one a
// lost create may have made.
func TestReconcileIgnoresOlderJob(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ctx := context.Background()
	h.addLeads("Twincorp", 6)
	in := input(t, nameQuery("Twincorp"), newestFirst)
	in.ResultsLimit = ptr(2)
	p1 := h.preview(in)
	first, err := h.g.Create(ctx, h.cl, p1.PlanID, phrase(p1))
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(first.Job.ID, "done")

	// Another server (it does not know the first job), some minutes later.
	h.clock.Advance(5 * time.Minute)
	g2 := h.newGuard(Policy{})
	p2, err := g2.Preview(ctx, h.cl, in)
	if err != nil {
		t.Fatal(err)
	}
	h.failCreate.Store(502)
	_, err = g2.Create(ctx, h.cl, p2.PlanID, phrase(p2))
	var unc *UncertainError
	if !errors.As(err, &unc) {
		t.Fatalf("want UncertainError, got %v", err)
	}
}

// An audit log that cannot be written stops the delete before Close hears
// of it.
func TestAuditFailureRefusesCreate(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.addLeads("Auditcorp", 3)
	p := h.preview(input(t, nameQuery("Auditcorp"), ""))
	h.log.Close()
	h.sb.ResetRequests()
	_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
	wantRefusal(t, err, CodeAuditUnavailable)
	if n := len(h.createBodies()); n != 0 {
		t.Fatalf("%d creates sent", n)
	}
	if len(h.sb.Jobs()) != 0 {
		t.Fatal("a job exists")
	}
	if n := h.sb.Requests("POST", "/bulk_action/"); n != 0 {
		t.Fatalf("%d bulk action requests", n)
	}
	// Nothing was sent, so the plan is released, not consumed: once the
	// operator fixes the log, the same plan and confirmation can be retried.
	_, st, _ := h.g.store.Load(context.Background(), p.PlanID)
	if st != PlanAvailable {
		t.Errorf("plan is %v after an audit failure, want available", st)
	}
}

func TestAuditFailureAtPreview(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.addLeads("Auditcorp", 3)
	h.log.Close()
	p := h.preview(input(t, nameQuery("Auditcorp"), ""))
	if p.Executable || p.Refusal == nil || p.Refusal.Code != CodeAuditUnavailable || p.Total != 3 {
		t.Fatalf("preview %+v", p)
	}
}

func TestPreviewWarnings(t *testing.T) {
	tests := []struct {
		name  string
		query string
		want  string
	}{
		{"unrecognised key", `{"type":"and","_comment":"hi","queries":[{"type":"object_type","object_type":"lead"},{"type":"text","mode":"full_words","value":"Warncorp"}]}`, `unrecognised key "_comment"`},
		{"saved_search", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"text","mode":"full_words","value":"Warncorp"},{"type":"saved_search","saved_search_id":"VIEW"}]}`, "saved_search"},
		{"current user", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"text","mode":"full_words","value":"Warncorp"},` +
			`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"created_by"},"condition":{"type":"reference","reference_type":"user","object_ids":["CURRENT_USER"]}}]}`, "CURRENT_USER"},
		{"status by name", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"text","mode":"full_words","value":"Warncorp"},` +
			`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},"condition":{"type":"reference","reference_type":"status.lead","object_ids":["Potential"]}}]}`, `lead status "Potential" is not a status id`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.addLeads("Warncorp", 2)
			viewID, _ := h.sb.SmartViewID("Junk / test leads")
			p, err := h.g.Preview(context.Background(), h.cl, input(t, strings.Replace(tc.query, "VIEW", viewID, 1), ""))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, tc.want) }) {
				t.Errorf("warnings %q lack %q", p.Warnings, tc.want)
			}
		})
	}

	// Index lag: right after a create, a preview says counts may lag.
	h := newHarness(t, harnessOpts{})
	h.addLeads("Lagcorp", 2)
	p := h.preview(input(t, nameQuery("Lagcorp"), ""))
	if slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "lag") }) {
		t.Errorf("lag warning before any delete: %q", p.Warnings)
	}
	if _, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p)); err != nil {
		t.Fatal(err)
	}
	p2 := h.preview(input(t, nameQuery("Lagcorp"), ""))
	if !slices.ContainsFunc(p2.Warnings, func(w string) bool { return strings.Contains(w, "lag") }) {
		t.Errorf("no lag warning right after a delete: %q", p2.Warnings)
	}
}

func TestPreviewSampleSize(t *testing.T) {
	tests := []struct {
		name       string
		size, want int
		requests   int
	}{
		{"default", 0, 10, 2}, // the first preview also counts every lead (then cached)
		{"small", 3, 3, 1},
		{"count only", NoSample, 0, 1},
		{"capped", 500, MaxSampleSize, 1},
	}
	h := newHarness(t, harnessOpts{})
	h.addLeads("Samplecorp", 60)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, nameQuery("Samplecorp"), "")
			in.SampleSize = tc.size
			h.sb.ResetRequests()
			p := h.preview(in)
			if len(p.Sample) != tc.want || p.Total != 60 {
				t.Errorf("sample %d total %d", len(p.Sample), p.Total)
			}
			if n := h.requests(); n != tc.requests {
				t.Errorf("%d requests", n)
			}
		})
	}
}

// The elicitation round trip as the tools layer runs it: BeginCreate, seal,
// the client sends the state back, open, create.
func TestElicitationRoundTrip(t *testing.T) {
	h := newHarness(t, harnessOpts{policy: Policy{Confirm: ConfirmElicit}})
	ctx := context.Background()
	h.addLeads("Elicitcorp", 2)
	p := h.preview(input(t, nameQuery("Elicitcorp"), ""))
	other := h.preview(input(t, nameQuery("Elicitcorp"), ""))
	pending, err := h.g.BeginCreate(ctx, h.cl, p.PlanID)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := h.g.SealState(pending, h.cl.Principal())
	if err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, h.g.OpenState(context.Background(), tok, h.cl.Principal(), other.PlanID), CodeStateWrongTarget)
	wantRefusal(t, h.g.OpenState(context.Background(), tok, h.client("another-key").Principal(), p.PlanID), CodeStateForeign)
	if err := h.g.OpenState(context.Background(), tok, h.cl.Principal(), p.PlanID); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, h.g.OpenState(context.Background(), tok, h.cl.Principal(), p.PlanID), CodeStateReplayed)
	ex, err := h.g.Create(ctx, h.cl, p.PlanID, Confirmation{By: ConfirmedByElicitation, Phrase: pending.Phrase})
	if err != nil {
		t.Fatal(err)
	}
	if ex.Receipt.ConfirmedBy != ConfirmedByElicitation {
		t.Errorf("receipt %+v", ex.Receipt)
	}

	// A plan that expires sooner than the state's five minutes takes the
	// state with it.
	short := newHarness(t, harnessOpts{policy: Policy{PlanTTL: time.Minute}})
	short.addLeads("Elicitcorp", 1)
	sp := short.preview(input(t, nameQuery("Elicitcorp"), ""))
	spending, err := short.g.BeginCreate(ctx, short.cl, sp.PlanID)
	if err != nil {
		t.Fatal(err)
	}
	stok, _ := short.g.SealState(spending, short.cl.Principal())
	short.clock.Advance(time.Minute)
	wantRefusal(t, short.g.OpenState(context.Background(), stok, short.cl.Principal(), sp.PlanID), CodeStateExpired)
}

func TestPreviewResultsLimitKeepsNothing(t *testing.T) {
	tests := []struct {
		name  string
		limit *int
		want  bool
	}{
		{"no limit", nil, false},
		{"below the count", ptr(2), false},
		{"equal to the count", ptr(3), true},
		{"above the count", ptr(10), true},
	}
	h := newHarness(t, harnessOpts{})
	h.addLeads("Keepcorp", 3)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := input(t, nameQuery("Keepcorp"), "")
			in.ResultsLimit = tc.limit
			p := h.preview(in)
			got := slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, "nothing will be kept") })
			if got != tc.want {
				t.Errorf("results_limit %v over 3 matches: warned %v, want %v (%q)", tc.limit, got, tc.want, p.Warnings)
			}
		})
	}
}

func TestPreviewSampleDetails(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.addLeads("Detailcorp", 2)
	p := h.preview(input(t, nameQuery("Detailcorp"), ""))
	if len(p.Sample) != 2 {
		t.Fatalf("sample %+v", p.Sample)
	}
	for _, s := range p.Sample {
		if s.Status == "" || s.DateCreated == "" || s.LeadID != "" {
			t.Errorf("a lead's sample item lacks its status or created date: %+v", s)
		}
	}
}

func TestQueryWarningsStatusNames(t *testing.T) {
	cond := func(ids string) string {
		return `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},` +
			`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},"condition":{"type":"reference","reference_type":"status.lead","object_ids":[` + ids + `]}}]}`
	}
	tests := []struct {
		name, query, want string
	}{
		{"ids only", cond(`"stat_a","stat_b"`), ""},
		{"one name", cond(`"stat_a","Bad Fit"`), `lead status "Bad Fit" is not a status id`},
		{"two names", cond(`"Bad Fit","Qualified"`), `lead statuses "Bad Fit", "Qualified" are not status ids`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := queryWarnings(input(t, tc.query, "").Query)
			got := slices.ContainsFunc(w, func(s string) bool {
				return strings.Contains(s, "not a status id") || strings.Contains(s, "not status ids")
			})
			if got != (tc.want != "") || (tc.want != "" && !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, tc.want) })) {
				t.Errorf("warnings %q, want %q", w, tc.want)
			}
		})
	}
}
