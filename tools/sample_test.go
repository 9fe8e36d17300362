package tools

import (
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/closeapi"
)

func TestSampleDetailInPreviewText(t *testing.T) {
	tests := []struct {
		name string
		item closeapi.SampleItem
		want string
	}{
		{"lead", closeapi.SampleItem{ID: "lead_1", DisplayName: "ACME", Status: "Potential", DateCreated: "2024-05-06T23:08:09.123000+00:00"},
			`- "ACME" (lead_1; status "Potential", created 2024-05-06)`},
		{"contact", closeapi.SampleItem{ID: "cont_1", DisplayName: "Bruce", LeadID: "lead_7", DateCreated: "2024-01-02T03:04:05+00:00"},
			`- "Bruce" (cont_1; created 2024-01-02, of lead lead_7)`},
		{"unparsable date kept as sent", closeapi.SampleItem{ID: "lead_2", DisplayName: "B", DateCreated: "yesterday"},
			`- "B" (lead_2; created yesterday)`},
		{"nothing but a name", closeapi.SampleItem{ID: "lead_3", DisplayName: "C"}, `- "C" (lead_3)` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := previewText(&previewResult{Environment: "production", ObjectType: "lead", Total: 1, WillDelete: 1, Sample: []closeapi.SampleItem{tc.item}})
			if !strings.Contains(text, tc.want) {
				t.Errorf("preview text lacks %q:\n%s", tc.want, text)
			}
		})
	}
}
