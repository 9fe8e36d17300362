package closeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// fakeSearch serves n matches ("lead_1"…) in pages of the request's _limit,
// with a cursor while more remain, and the count on the first page. short
// > 0 ends the walk after that many rows (an index moving under it).
func fakeSearch(t *testing.T, n, short int) *fakeClose {
	return newFake(t, func(w http.ResponseWriter, r *http.Request, _ int, body []byte) {
		var req struct {
			ResultsLimit *int    `json:"results_limit"`
			Limit        int     `json:"_limit"`
			Cursor       *string `json:"cursor"`
			Counts       bool    `json:"include_counts"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		limited := n
		if req.ResultsLimit != nil && *req.ResultsLimit < limited {
			limited = *req.ResultsLimit
		}
		if short > 0 {
			limited = min(limited, short)
		}
		pos := 0
		if req.Cursor != nil {
			if _, err := fmt.Sscanf(*req.Cursor, "at%d", &pos); err != nil {
				t.Errorf("cursor %q: %v", *req.Cursor, err)
			}
		}
		end := min(pos+req.Limit, limited)
		var rows []string
		for i := pos; i < end; i++ {
			rows = append(rows, fmt.Sprintf(`{"id":"lead_%d","display_name":"Lead %d"}`, i+1, i+1))
		}
		cursor := "null"
		if end < limited {
			cursor = fmt.Sprintf(`"at%d"`, end)
		}
		count := ""
		if req.Counts {
			count = fmt.Sprintf(`,"count":{"total":%d,"limited":%d}`, n, limited)
		}
		jsonReply(w, 200, `{"data":[`+strings.Join(rows, ",")+`],"cursor":`+cursor+count+`}`)
	})
}

func TestMatches(t *testing.T) {
	tests := []struct {
		name           string
		n, short       int
		req            MatchRequest
		ids, requests  int
		sample         int
		complete       bool
		firstPageLimit int
	}{
		{"all ids in one page", 3, 0, MatchRequest{Sample: 10, AllIDsUpTo: 1000}, 3, 1, 3, true, 200},
		{"all ids along the cursor", 450, 0, MatchRequest{Sample: 10, AllIDsUpTo: 1000}, 450, 3, 10, true, 200},
		{"results_limit caps the walk", 450, 0, MatchRequest{ResultsLimit: ptr(201), AllIDsUpTo: 1000}, 201, 2, 0, true, 200},
		{"above the bound: the first page only", 1500, 0, MatchRequest{Sample: 10, AllIDsUpTo: 1000}, 200, 1, 10, false, 200},
		{"sample only", 500, 0, MatchRequest{Sample: 10}, 10, 1, 10, false, 10},
		{"walk ends short of the count", 450, 300, MatchRequest{AllIDsUpTo: 1000}, 300, 2, 0, false, 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeSearch(t, tc.n, tc.short)
			c, _ := testClient(t, f.base(), nil)
			r := tc.req
			r.Query, r.ObjectType = json.RawMessage(`{"type":"object_type","object_type":"lead"}`), "lead"
			m, err := c.Matches(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.IDs) != tc.ids || len(m.Sample) != tc.sample || m.Complete != tc.complete || m.Count.Total != tc.n {
				t.Errorf("ids %d sample %d complete %v total %d, want %d %d %v %d", len(m.IDs), len(m.Sample), m.Complete, m.Count.Total, tc.ids, tc.sample, tc.complete, tc.n)
			}
			if len(m.IDs) > 0 && m.IDs[0] != "lead_1" {
				t.Errorf("first id %s", m.IDs[0])
			}
			reqs := f.requests()
			if len(reqs) != tc.requests {
				t.Errorf("%d requests, want %d", len(reqs), tc.requests)
			}
			var first struct {
				Limit  int                 `json:"_limit"`
				Fields map[string][]string `json:"_fields"`
			}
			if err := json.Unmarshal(reqs[0].Body, &first); err != nil {
				t.Fatal(err)
			}
			if first.Limit != tc.firstPageLimit || len(first.Fields["lead"]) == 0 || first.Fields["lead"][0] != "id" {
				t.Errorf("first page asked _limit %d _fields %v", first.Limit, first.Fields)
			}
		})
	}
}

func TestMatchesBounds(t *testing.T) {
	c, _ := testClient(t, "http://127.0.0.1:1/api/v1", nil)
	q := json.RawMessage(`{"type":"object_type","object_type":"lead"}`)
	for _, r := range []MatchRequest{
		{Query: q, ObjectType: "lead", AllIDsUpTo: MaxIDWalk + 1},
		{Query: q, ObjectType: "lead", Sample: -1},
		{Query: q, ObjectType: "Lead!"},
	} {
		if _, err := c.Matches(context.Background(), r); err == nil {
			t.Errorf("%+v: no error", r)
		}
	}
}
