package sandbox

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// threeConditions is the benchmark query: a name word, a status and a
// relative date range.
func threeConditions(s *Server) string {
	bad, _ := s.StatusID("Potential")
	return leads(
		fc("lead", "name", text("full_words", "labs")),
		fc("lead", "status_id", fmt.Sprintf(`{"type":"reference","reference_type":"status.lead","object_ids":[%q]}`, bad)),
		fc("lead", "date_created", mrange(offset("past", 365, 0, "start"), "null")),
	)
}

// graphConditions is the graph benchmark query: a name word, a won
// opportunity worth at least 10,000, and no call in the last year (a
// negated has_related with a date range).
func graphConditions(*Server) string {
	return leads(
		fc("lead", "name", text("full_words", "labs")),
		related("lead", "opportunity", and(fc("opportunity", "status_type", `{"type":"term","values":["won"]}`),
			fc("opportunity", "value", `{"type":"number_range","gte":1000000}`))),
		negate(related("lead", "activity.call", fc("activity.call", "date_created", mrange(offset("past", 365, 0, "start"), "null")))),
	)
}

func benchCount(b *testing.B, n int) { benchQuery(b, n, threeConditions) }

func benchQuery(b *testing.B, n int, query func(*Server) string) {
	s, err := New(Options{Leads: n, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := `{"query":` + query(s) + `,"include_counts":true,"results_limit":0}`
	var total string
	for b.Loop() {
		req := httptest.NewRequest("POST", "/api/v1/data/search/", strings.NewReader(body))
		req.SetBasicAuth(DemoAPIKey, "")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		total = w.Body.String()
	}
	b.ReportMetric(float64(n), "leads")
	_ = total
}

// BenchmarkCount100k: POST /data/search/ count-only with three conditions
// over 100,000 leads, through the handler (decoding, evaluation, JSON).
func BenchmarkCount100k(b *testing.B) { benchCount(b, 100_000) }

// BenchmarkCountGraph100k: the same over 100,000 leads with a has_related
// on opportunities and a negated one on calls.
func BenchmarkCountGraph100k(b *testing.B) { benchQuery(b, 100_000, graphConditions) }

// BenchmarkCountRollup100k: a roll-up (num_won_opportunities), computed
// once per change of the data and then read like a stored field.
func BenchmarkCountRollup100k(b *testing.B) {
	benchQuery(b, 100_000, func(*Server) string {
		return leads(fc("lead", "name", text("full_words", "labs")),
			fc("lead", "num_won_opportunities", `{"type":"number_range","gt":0}`),
			fc("lead", "last_call_date", mrange(offset("past", 365, 0, "start"), "null")))
	})
}

// BenchmarkCount1M is the same over 1,000,000 leads. Seeding them takes a
// while and several GB; -short skips it.
func BenchmarkCount1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M leads: run without -short")
	}
	benchCount(b, 1_000_000)
}

// BenchmarkSeed100k seeds a 100,000-lead organization with its graph and
// reports the heap it keeps per lead.
func BenchmarkSeed100k(b *testing.B) {
	var perLead float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s, err := New(Options{Leads: 100_000, Now: func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		perLead = float64(after.HeapAlloc-before.HeapAlloc) / 100_000
		runtime.KeepAlive(s)
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(perLead, "heapB/lead")
}

// BenchmarkBulkDelete10k: create a bulk delete of all 10,000 leads at an
// unlimited rate and wait until it is done.
func BenchmarkBulkDelete10k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s, err := New(Options{Leads: 10_000, Now: func() time.Time { return t0 }, BatchSize: 500})
		if err != nil {
			b.Fatal(err)
		}
		req := httptest.NewRequest("POST", "/api/v1/bulk_action/delete/", strings.NewReader(`{"s_query":{"type":"match_all"}}`))
		req.SetBasicAuth(DemoAPIKey, "")
		w := httptest.NewRecorder()
		b.StartTimer()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
		for {
			s.mu.RLock()
			done := s.jobs[0].status == "done"
			s.mu.RUnlock()
			if done {
				break
			}
			time.Sleep(100 * time.Microsecond)
		}
		b.StopTimer()
		if s.NumLeads() != 0 {
			b.Fatalf("%d leads left", s.NumLeads())
		}
		s.Close()
		b.StartTimer()
	}
}
