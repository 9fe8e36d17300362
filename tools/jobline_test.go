package tools

import (
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
)

// TestJobLine pins the one-line summary of a job in the text fallback.
func TestJobLine(t *testing.T) {
	str := func(s string) *string { return &s }
	n := func(v int) *int { return &v }
	created := &closeapi.Time{Time: time.Date(2026, 5, 4, 3, 2, 1, 500, time.FixedZone("x", -4*3600))}
	tests := []struct {
		name string
		job  closeapi.BulkDelete
		want string
	}{
		{"fresh, no counts yet", closeapi.BulkDelete{ID: "bulkdelete_a", BulkObjectType: "lead", Status: str("created")},
			"bulkdelete_a: created, lead, 0/? processed"},
		{"running, with date", closeapi.BulkDelete{ID: "bulkdelete_b", BulkObjectType: "contact", Status: str("processing"),
			NObjects: n(3), NObjectsProcessed: 1, DateCreated: created},
			"bulkdelete_b: processing, contact, 1/3 processed (33.3%), created 2026-05-04T07:02:01Z"},
		{"done, leads only", closeapi.BulkDelete{ID: "bulkdelete_c", BulkObjectType: "lead", Status: str("done"),
			NLeads: n(77), NLeadsProcessed: 77},
			"bulkdelete_c: done, lead, 77/77 processed (100.0%)"},
		{"done without counts", closeapi.BulkDelete{ID: "bulkdelete_d", BulkObjectType: "lead", Status: str("done")},
			"bulkdelete_d: done, lead, 0/? processed (100.0%)"},
		{"null status, zero date", closeapi.BulkDelete{ID: "bulkdelete_e", BulkObjectType: "lead", NObjects: n(0), DateCreated: &closeapi.Time{}},
			"bulkdelete_e: unknown, lead, 0/0 processed (0.0%)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jobLine(&tt.job); got != tt.want {
				t.Errorf("jobLine = %q\n want %q", got, tt.want)
			}
		})
	}
}
