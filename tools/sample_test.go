package tools

import (
	"strings"
	"testing"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
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

func TestCreateSaysFewerMatchNow(t *testing.T) {
	tests := []struct {
		name                 string
		previewed, recounted int
		sent                 int
		want                 string
	}{
		{"same", 42, 42, 42, ""},
		{"fewer", 50, 8, 50, "42 fewer match now than previewed (8 of 50), so at most 8 will be deleted."},
		{"one fewer under a limit", 10, 9, 5, "1 fewer match now than previewed (9 of 10), so at most 5 will be deleted."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &createResult{Environment: "production", Job: &closeapi.BulkDelete{ID: "bulk_1", BulkObjectType: "lead"},
				Receipt: guards.Receipt{Previewed: tc.previewed, Recounted: tc.recounted, ResultsLimitSent: tc.sent}}
			c.NextStep = createNextStep(c)
			if tc.want == "" {
				if strings.Contains(c.NextStep, "fewer") {
					t.Errorf("next_step %q speaks of fewer matches", c.NextStep)
				}
				return
			}
			if !strings.HasPrefix(c.NextStep, tc.want) || !strings.Contains(createText(c), tc.want) {
				t.Errorf("next_step %q / text %q lack %q", c.NextStep, createText(c), tc.want)
			}
		})
	}
}

func TestPreviewTextPlurals(t *testing.T) {
	tests := []struct {
		total int
		want  string
	}{
		{0, "0 leads match;"},
		{1, "1 lead matches;"},
		{42, "42 leads match;"},
	}
	for _, tc := range tests {
		text := previewText(&previewResult{Environment: "production", ObjectType: "lead", Total: tc.total, WillDelete: tc.total})
		if !strings.Contains(text, tc.want) {
			t.Errorf("preview text of %d lacks %q: %s", tc.total, tc.want, text)
		}
	}
}
