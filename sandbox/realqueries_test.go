package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealQueries runs the queries people wrote for Close's
// /data/search/ (copied from ../shared/real-queries into testdata): each is
// either answered (200) or refused with a 400 naming what the sandbox does
// not model — never a 500.
func TestRealQueries(t *testing.T) {
	e := newEnv(t, Options{Leads: 300})
	files, err := filepath.Glob("testdata/real-queries/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no real queries: %v", err)
	}
	// The refusals, by file prefix: the construct the 400 must name.
	refused := map[string]string{
		"30": `object_type "custom_object"`,
		"33": `primary_opportunity_date_won`,
		"34": `unknown field lead.num_won_opportunities`,
		"31": `unknown custom field cf_fzBs9wJXD6nBEB9VK4BGiDyHblMuzJIGiHmpnhy63Yx`,
		"35": `object_type "opportunity" cannot be searched`,
		"36": `times_communicated`,
		"37": `last_opportunity_won_date_won`,
		"39": `object_type "opportunity"`,
		"40": `unknown custom field cf_SUBSTField`,
		"41": `unknown custom field cf_SUBSTHealthie`,
	}
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(base, func(t *testing.T) {
			e.t = t
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]json.RawMessage
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatal(err)
			}
			if _, ok := body["query"]; !ok {
				// a Smart View / Copy Filters payload: send its query.
				body = map[string]json.RawMessage{"query": raw}
			}
			delete(body, "_fields") // they name fields of objects the sandbox lacks
			body["include_counts"] = json.RawMessage("true")
			code, m, _ := e.do("POST", "/api/v1/data/search/", body)
			want, isRefused := refused[base[:2]]
			switch {
			case code == 200 && !isRefused:
			case code == 400 && isRefused:
				fe, _ := m["field-errors"].(map[string]any)
				msg, _ := fe["query"].(string)
				if msg == "" {
					msg, _ = fe["sort"].(string)
				}
				if !strings.Contains(msg, want) {
					t.Errorf("refusal %q does not name %s", msg, want)
				}
			default:
				t.Errorf("got %d %v (refusal expected: %v)", code, m, isRefused)
			}
		})
	}
}
