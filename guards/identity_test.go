package guards

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/schema"
)

// recentQuery matches the leads named word created in the last hour: a
// relative moment, re-evaluated by Close at every search.
func recentQuery(word string) string {
	return fmt.Sprintf(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},`+
		`"condition":{"type":"text","mode":"full_words","value":%q}},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"},`+
		`"condition":{"type":"moment_range","on_or_after":{"type":"offset","direction":"past","moment":{"type":"now"},`+
		`"offset":{"years":0,"months":0,"weeks":0,"days":0,"hours":1,"minutes":0,"seconds":0},"which_day_end":"start"},`+
		`"before":{"type":"now"}}}]}`, word)
}

// deleteLead deletes one lead through the sandbox's HTTP API, as someone
// in Close's UI would.
func (h *harness) deleteLead(id string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodDelete, h.srv.URL+"/api/v1/lead/"+id+"/", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	req.SetBasicAuth(sandbox.DemoAPIKey, "")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("DELETE lead %s: %d", id, resp.StatusCode)
	}
}

func (h *harness) addNamed(word string, n int, created time.Time) []string {
	var ids []string
	for i := range n {
		ids = append(ids, h.sb.AddLead(sandbox.LeadSpec{Name: fmt.Sprintf("%s Testcorp %d", word, i+1), DateCreated: created.Add(time.Duration(i) * time.Second)}))
	}
	return ids
}

// The same number of matches, other objects: create refuses and sends
// nothing, and the previewed leads and the new ones all remain.
func TestCreateIdentityChanged(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		// swap makes 3 new leads match instead of the previewed ones
		// without changing the count, and returns the new ones.
		setup func(h *harness, clock *testkit.Clock) (query string)
		swap  func(h *harness, clock *testkit.Clock) []string
		want  string // in the refusal
	}{
		{
			name: "relative moment: the previewed leads age out, 3 new ones age in",
			setup: func(h *harness, clock *testkit.Clock) string {
				h.addNamed("Agecorp", 3, clock.Now().Add(-50*time.Minute))
				return recentQuery("Agecorp")
			},
			swap: func(h *harness, clock *testkit.Clock) []string {
				fresh := h.addNamed("Agecorp", 3, clock.Now().Add(time.Minute))
				clock.Advance(15 * time.Minute)
				return fresh
			},
			want: "3 leads that the person was not shown (3 of the 3 previewed no longer match)",
		},
		{
			name: "index lag: the preview counted 3 deleted leads, 3 new ones match now",
			setup: func(h *harness, clock *testkit.Clock) string {
				h.sb.SetFaults(sandbox.Faults{IndexLag: 30 * time.Second})
				ghosts := h.addNamed("Lagswapcorp", 3, clock.Now().Add(-time.Hour))
				for _, id := range ghosts {
					h.deleteLead(id)
				}
				return nameQuery("Lagswapcorp")
			},
			swap: func(h *harness, clock *testkit.Clock) []string {
				fresh := h.addNamed("Lagswapcorp", 3, clock.Now().Add(-time.Minute))
				clock.Advance(time.Minute) // the index catches up
				return fresh
			},
			want: "3 leads that the person was not shown",
		},
		{
			name:   "above the bound: the sample is gone",
			policy: Policy{VerifyIDsUpTo: 2},
			setup: func(h *harness, clock *testkit.Clock) string {
				h.addNamed("Agecorp", 3, clock.Now().Add(-50*time.Minute))
				return recentQuery("Agecorp")
			},
			swap: func(h *harness, clock *testkit.Clock) []string {
				fresh := h.addNamed("Agecorp", 3, clock.Now().Add(time.Minute))
				clock.Advance(15 * time.Minute)
				return fresh
			},
			want: "3 of the 3 sampled leads are no longer among the first 3 the delete would take",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &testkit.Clock{}
			h := newHarness(t, harnessOpts{policy: tc.policy, sandbox: sandbox.Options{Now: clock.Now}})
			query := tc.setup(h, clock)
			p := h.preview(input(t, query, ""))
			if !p.Executable || p.Total != 3 {
				t.Fatalf("preview: total %d executable %v %v", p.Total, p.Executable, p.Refusal)
			}
			if tc.policy.VerifyIDsUpTo == 0 && p.IDsChecked != 3 {
				t.Errorf("the plan keeps %d ids, want 3", p.IDsChecked)
			}
			fresh := tc.swap(h, clock)
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			r := refusalOf(t, err, CodeIdentityChanged)
			if !strings.Contains(r.Problem, tc.want) || !strings.Contains(r.Error(), "Nothing was deleted.") {
				t.Errorf("refusal %q lacks %q", r.Error(), tc.want)
			}
			if n := len(h.createBodies()); n != 0 {
				t.Fatalf("%d creates reached Close", n)
			}
			for _, id := range fresh {
				if !h.sb.HasLead(id) {
					t.Errorf("lead %s, never shown, is gone", id)
				}
			}
			// The plan is spent: the person has to see the new leads.
			_, err = h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			wantRefusal(t, err, CodePlanStale)
			again := h.preview(input(t, query, ""))
			got := make([]string, 0, len(again.Sample))
			for _, s := range again.Sample {
				got = append(got, s.ID)
			}
			slices.Sort(got)
			want := slices.Clone(fresh)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("a new preview shows %v, want the new leads %v", got, want)
			}
		})
	}
}

// The ids the person was shown are kept in the plan and written on the
// create records; a delete whose matches stayed put goes through.
func TestCreateRecordsIDs(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ids := h.addLeads("Idcorp", 4)
	in := input(t, nameQuery("Idcorp"), newestFirst)
	in.ResultsLimit = ptr(10)
	p := h.preview(in)
	if p.IDsChecked != 4 {
		t.Fatalf("ids_checked %d, want 4", p.IDsChecked)
	}
	ex, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Receipt.IDsChecked != 4 {
		t.Errorf("receipt %+v", ex.Receipt)
	}
	want := slices.Clone(ids)
	slices.Sort(want)
	var creates int
	for _, r := range h.audit() {
		if r.Event != EventCreateIntent && r.Event != EventCreate {
			continue
		}
		creates++
		if !slices.Equal(r.IDs, want) || !strings.HasPrefix(r.IDsDigest, "sha256:") {
			t.Errorf("%s record ids %v digest %q, want %v", r.Event, r.IDs, r.IDsDigest, want)
		}
		// The query itself, canonical (its sha256 is the digest), with
		// the sort and the results_limit asked for.
		sum := sha256.Sum256(r.SQuery)
		if !bytes.Equal(r.SQuery, schema.Canonical(in.Query)) || "sha256:"+hex.EncodeToString(sum[:]) != r.QueryDigest {
			t.Errorf("%s record s_query %s (digest %s)", r.Event, r.SQuery, r.QueryDigest)
		}
		if !strings.Contains(string(r.Sort), `"date_created"`) || r.ResultsLimit == nil || *r.ResultsLimit != 10 ||
			r.ResultsLimitSent == nil || *r.ResultsLimitSent != 4 {
			t.Errorf("%s record sort %s results_limit %v sent %v", r.Event, r.Sort, r.ResultsLimit, r.ResultsLimitSent)
		}
	}
	if creates != 2 {
		t.Errorf("%d create records, want intent and outcome", creates)
	}
	h.waitStatus(ex.Job.ID, "done")
	h.waitGone(ids)
}

// The ids of a delete above one page (200) are read along the cursor, at
// preview and at create.
func TestCreateIdentityPages(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.addLeads("Pagecorp", 450)
	h.addLeads("Bystandercorp", 500) // keeps 450 under --max-share
	h.sb.ResetRequests()
	p := h.preview(input(t, nameQuery("Pagecorp"), newestFirst))
	if !p.Executable || p.IDsChecked != 450 {
		t.Fatalf("preview: exec %v ids %d %v", p.Executable, p.IDsChecked, p.Refusal)
	}
	// 3 pages of 200 for the matches, 1 for every lead.
	if n := h.sb.Requests("POST", "/data/search/"); n != 4 {
		t.Errorf("preview made %d searches, want 4", n)
	}
	h.sb.ResetRequests()
	ex, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
	if err != nil {
		t.Fatal(err)
	}
	if ex.Receipt.IDsChecked != 450 {
		t.Errorf("receipt %+v", ex.Receipt)
	}
	if n := h.sb.Requests("POST", "/data/search/"); n != 3 {
		t.Errorf("create made %d searches, want 3 pages", n)
	}
}

func TestRelativeMomentWarning(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.addNamed("Warnagecorp", 2, time.Now().Add(-10*time.Minute))
	p := h.preview(input(t, recentQuery("Warnagecorp"), ""))
	if !slices.ContainsFunc(p.Warnings, func(s string) bool { return strings.Contains(s, "relative date") }) {
		t.Errorf("warnings %q lack the relative date", p.Warnings)
	}
	q := h.preview(input(t, nameQuery("Warnagecorp"), ""))
	if slices.ContainsFunc(q.Warnings, func(s string) bool { return strings.Contains(s, "relative date") }) {
		t.Errorf("a query without a relative date warns %q", q.Warnings)
	}
}

// leadQuery wraps conditions in an and after object_type lead.
func leadQuery(conds ...string) string {
	return `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},` + strings.Join(conds, ",") + `]}`
}

func leadField(name, cond string) string {
	return `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"` + name + `"},"condition":` + cond + `}`
}

// Tautologies: queries whose shape looks selective but that match every
// lead. Judged by count, each is refused as match_all (issue 11), and runs
// only with AllowMatchAll.
func TestMatchAllByCount(t *testing.T) {
	tautologies := []struct {
		name  string
		query func(h *harness) string
	}{
		{"saved_search of the All Leads view inside an and", func(h *harness) string {
			id, ok := h.sb.SmartViewID("All Leads")
			if !ok {
				t.Fatal("no All Leads view")
			}
			return leadQuery(`{"type":"saved_search","saved_search_id":"` + id + `"}`)
		}},
		{"date_created on or after 1970-01-01", func(*harness) string {
			return leadQuery(leadField("date_created", `{"type":"moment_range","on_or_after":{"type":"fixed_local_date","value":"1970-01-01","which":"start"},"before":null}`))
		}},
		{`id is not "lead_x"`, func(*harness) string {
			return leadQuery(`{"type":"id","value":"lead_x","negate":true}`)
		}},
		{`name does not have the words "zzq"`, func(*harness) string {
			return leadQuery(`{"type":"field_condition","negate":true,"field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"zzq"}}`)
		}},
		{"name is set or not set", func(*harness) string {
			return leadQuery(`{"type":"or","queries":[` + leadField("name", `{"type":"exists"}`) + `,` +
				`{"type":"field_condition","negate":true,"field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"exists"}}]}`)
		}},
		{"date_created exists", func(*harness) string {
			return leadQuery(leadField("date_created", `{"type":"exists"}`))
		}},
	}
	for _, tc := range tautologies {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.addLeads("Allcorp", 3)
			before := h.sb.NumLeads()
			_, err := h.g.Preview(context.Background(), h.cl, input(t, tc.query(h), ""))
			r := refusalOf(t, err, CodeMatchAll)
			want := fmt.Sprintf("%d leads of %d leads: every lead in the organization", before, before)
			if !strings.Contains(r.Problem, want) || !strings.Contains(r.Next, "--allow-match-all") {
				t.Errorf("refusal %q lacks %q", r.Error(), want)
			}
			// The operator's switch lets it through, with the share shown.
			open := h.newGuard(Policy{AllowMatchAll: true, MaxObjects: 10_000})
			p, err := open.Preview(context.Background(), h.cl, input(t, tc.query(h), ""))
			if err != nil {
				t.Fatal(err)
			}
			if !p.Executable || p.OrgTotal != before || p.Share != fmt.Sprintf("%d of %d leads: every lead in the organization", before, before) {
				t.Errorf("with --allow-match-all: exec %v org_total %d share %q %v", p.Executable, p.OrgTotal, p.Share, p.Refusal)
			}
		})
	}
}

// --max-share: a plan taking more than that share of every lead is not
// executable; up to it, it is, and the preview shows the share.
func TestMaxShare(t *testing.T) {
	tests := []struct {
		name   string
		policy Policy
		leads  int // of the harness's 200 bystanders + these
		code   string
		share  string
	}{
		{"default: a third is fine", Policy{}, 100, "", "100 of 300 leads (33%)"},
		{"default: over half is not", Policy{}, 201, CodeShareTooLarge, "201 of 401 leads (50%)"},
		{"a lower share", Policy{MaxShare: 0.1}, 100, CodeShareTooLarge, "100 of 300 leads (33%)"},
		{"allow-match-all lifts it", Policy{AllowMatchAll: true}, 201, "", "201 of 401 leads (50%)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOpts{policy: tc.policy})
			h.addLeads("Sharecorp", tc.leads)
			p := h.preview(input(t, nameQuery("Sharecorp"), ""))
			if p.Share != tc.share || p.OrgTotal != bystanders+tc.leads {
				t.Errorf("share %q org_total %d, want %q", p.Share, p.OrgTotal, tc.share)
			}
			if tc.code == "" {
				if !p.Executable {
					t.Fatalf("not executable: %v", p.Refusal)
				}
				return
			}
			if p.Executable || p.Refusal == nil || p.Refusal.Code != tc.code || !strings.Contains(p.Refusal.Next, "--max-share") {
				t.Fatalf("preview exec %v refusal %+v", p.Executable, p.Refusal)
			}
			_, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
			wantRefusal(t, err, CodePlanNotExecutable)
		})
	}
}

// A lone object_type of a type that may not be deleted is refused for its
// type, not as a match-all.
func TestLoneDisallowedObjectType(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.sb.ResetRequests()
	_, err := h.g.Preview(context.Background(), h.cl, input(t, `{"type":"object_type","object_type":"opportunity"}`, ""))
	wantRefusal(t, err, CodeObjectTypeNotAllowed)
	_, err = h.g.Preview(context.Background(), h.cl, input(t, `{"type":"object_type","object_type":"lead"}`, ""))
	wantRefusal(t, err, CodeMatchAll)
	if n := h.requests(); n != 0 {
		t.Errorf("shape refusals made %d Close requests", n)
	}
}

// The count of every lead is one request, reused briefly, and dropped by a
// create (whose deletes would make it too high).
func TestOrgTotalCached(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	ids := h.addLeads("Cachecorp", 3)
	h.addLeads("Cacheothercorp", 3)
	h.sb.ResetRequests()
	p := h.preview(input(t, nameQuery("Cachecorp"), ""))
	h.preview(input(t, nameQuery("Cacheothercorp"), ""))
	if n := h.requests(); n != 3 {
		t.Errorf("two previews made %d requests, want 3 (one count of every lead)", n)
	}
	ex, err := h.g.Create(context.Background(), h.cl, p.PlanID, phrase(p))
	if err != nil {
		t.Fatal(err)
	}
	h.waitStatus(ex.Job.ID, "done")
	h.waitGone(ids)
	h.sb.ResetRequests()
	q := h.preview(input(t, nameQuery("Cacheothercorp"), ""))
	if n := h.requests(); n != 2 || q.OrgTotal != bystanders+3 {
		t.Errorf("after a create: %d requests, org_total %d; want 2 and %d", n, q.OrgTotal, bystanders+3)
	}
	h.clock.Advance(orgTotalTTL)
	h.sb.ResetRequests()
	h.preview(input(t, nameQuery("Cacheothercorp"), ""))
	if n := h.requests(); n != 2 {
		t.Errorf("after the cache expired: %d requests, want 2", n)
	}
}
