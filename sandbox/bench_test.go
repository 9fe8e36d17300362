package sandbox

import (
	"fmt"
	"net/http"
	"net/http/httptest"
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

func benchCount(b *testing.B, n int) {
	s, err := New(Options{Leads: n, Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	body := `{"query":` + threeConditions(s) + `,"include_counts":true,"results_limit":0}`
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

// BenchmarkCount1M is the same over 1,000,000 leads. Seeding them takes a
// while and several GB; -short skips it.
func BenchmarkCount1M(b *testing.B) {
	if testing.Short() {
		b.Skip("1M leads: run without -short")
	}
	benchCount(b, 1_000_000)
}

// BenchmarkSeed100k seeds a 100,000-lead organization.
func BenchmarkSeed100k(b *testing.B) {
	for b.Loop() {
		s, err := New(Options{Leads: 100_000, Now: func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
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
