package testkit

import "testing"

// IDQuery is an s_query matching exactly the leads with these ids.
func IDQuery(ids []string) map[string]any {
	or := make([]any, len(ids))
	for i, id := range ids {
		or[i] = map[string]any{"type": "id", "value": id}
	}
	return map[string]any{"type": "and", "queries": []any{
		map[string]any{"type": "object_type", "object_type": "lead"},
		map[string]any{"type": "or", "queries": or},
	}}
}

// LastLeads returns the last n of the lead ids in all (a sandbox's
// LeadIDs; from the end, so tests that pick leads twice pick the same ones)
// and IDQuery of them. Fewer than n leads fails tb.
func LastLeads(tb testing.TB, all []string, n int) ([]string, map[string]any) {
	tb.Helper()
	if len(all) < n {
		tb.Fatalf("sandbox has %d leads, need %d", len(all), n)
	}
	ids := append([]string(nil), all[len(all)-n:]...)
	return ids, IDQuery(ids)
}
