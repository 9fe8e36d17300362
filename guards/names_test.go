package guards

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/sandbox"
)

// TestSummaryNamesIDs: the summary a person confirms names the status
// (with its id beside it), the lookup is made once per credential while
// cached, and a query without ids costs no lookup at all.
func TestSummaryNamesIDs(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	bad, ok := h.sb.StatusID("Bad Fit")
	if !ok {
		t.Fatal("no Bad Fit status in the sandbox")
	}
	h.sb.AddLead(sandbox.LeadSpec{Name: "Named Testcorp", Status: "Bad Fit"})
	query := fmt.Sprintf(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},`+
		`"condition":{"type":"reference","reference_type":"status.lead","object_ids":[%q]}}]}`, bad)

	h.sb.ResetRequests()
	p := h.preview(input(t, query, ""))
	if want := fmt.Sprintf(`status is lead status "Bad Fit" (%q)`, bad); !strings.Contains(p.Summary, want) {
		t.Fatalf("summary %q does not contain %q", p.Summary, want)
	}
	if n := h.sb.Requests("GET", "/api/v1/status/lead/"); n != 1 {
		t.Fatalf("first preview looked up statuses %d times, want 1", n)
	}
	h.preview(input(t, query, ""))
	if n := h.sb.Requests("GET", "/api/v1/status/lead/"); n != 1 {
		t.Fatalf("second preview looked up statuses again (%d lookups); the names are cached", n)
	}

	h.sb.ResetRequests()
	h.preview(input(t, nameQuery("Named"), ""))
	if n := h.requests(); n != 1 {
		t.Fatalf("a query without ids cost %d Close requests, want 1", n)
	}
}

// TestFailedLookupNotCached: a lookup that fails names nothing (the
// summary then shows bare ids; naming never blocks a preview) and is not
// cached, so the next preview names the ids again.
func TestFailedLookupNotCached(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	bad, _ := h.sb.StatusID("Bad Fit")
	query := fmt.Sprintf(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},`+
		`"condition":{"type":"reference","reference_type":"status.lead","object_ids":[%q]}}]}`, bad)
	node := input(t, query, "").Query
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if names := h.g.idNames(ctx, h.cl, node); len(names) != 0 {
		t.Fatalf("names from a failed lookup: %v", names)
	}
	if names := h.g.idNames(context.Background(), h.cl, node); names[bad] != "Bad Fit" {
		t.Fatalf("after a failed lookup, names = %v; the failure must not be cached", names)
	}
}

// TestLookupSharesNameCache: Lookup (the lookup_close_ids tool) always asks
// Close, and what it fetched names the ids of the next preview without a
// second request: one cache, one set of requests.
func TestLookupSharesNameCache(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	bad, _ := h.sb.StatusID("Bad Fit")
	query := fmt.Sprintf(`{"type":"and","queries":[{"type":"object_type","object_type":"lead"},`+
		`{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"status_id"},`+
		`"condition":{"type":"reference","reference_type":"status.lead","object_ids":[%q]}}]}`, bad)
	h.sb.ResetRequests()
	for range 2 {
		items, err := h.g.Lookup(context.Background(), h.cl, LookupLeadStatuses)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, it := range items {
			found = found || (it.ID == bad && it.Name == "Bad Fit")
		}
		if !found {
			t.Fatalf("Lookup(lead_statuses) = %+v, want %s named Bad Fit", items, bad)
		}
	}
	if n := h.sb.Requests("GET", "/api/v1/status/lead/"); n != 2 {
		t.Fatalf("two lookups made %d status requests, want 2 (a lookup is always fresh)", n)
	}
	p := h.preview(input(t, query, ""))
	if !strings.Contains(p.Summary, `"Bad Fit"`) {
		t.Fatalf("summary %q does not name the status", p.Summary)
	}
	if n := h.sb.Requests("GET", "/api/v1/status/lead/"); n != 2 {
		t.Fatalf("the preview after a lookup asked for statuses again (%d requests); it must use the lookup's answer", n)
	}
	if _, err := h.g.Lookup(context.Background(), h.cl, "pipelines"); err == nil {
		t.Fatal("Lookup of an unknown kind succeeded")
	}
}
