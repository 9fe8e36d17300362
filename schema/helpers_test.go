package schema

import (
	"reflect"
	"testing"
)

func mustNode(t *testing.T, s string) Node {
	t.Helper()
	n, _, err := DecodeNode([]byte(s))
	if err != nil {
		t.Fatalf("DecodeNode(%s): %v", s, err)
	}
	return n
}

const urlSet = `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"url"},"condition":{"type":"exists"}}`

func TestObjectTypeOf(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{lead, "lead", true},
		{leadsWhere(urlSet), "lead", true},
		{`{"type":"and","queries":[` + urlSet + `,{"type":"object_type","object_type":"contact"}]}`, "contact", true},
		{`{"type":"and","queries":[{"type":"and","queries":[` + lead + `]},` + urlSet + `]}`, "lead", true},
		{`{"type":"and","queries":[` + lead + `,{"type":"and","queries":[` + lead + `]}]}`, "lead", true},
		{`{"type":"and","queries":[` + lead + `,{"type":"object_type","object_type":"contact"}]}`, "", false},
		{`{"type":"and","queries":[` + negated(lead) + `,` + urlSet + `]}`, "", false},
		{negated(leadsWhere(urlSet)), "", false},
		{negated(lead), "", false},
		{`{"type":"or","queries":[` + lead + `]}`, "", false},
		{`{"type":"and","queries":[{"type":"or","queries":[` + lead + `]}]}`, "", false},
		{`{"type":"and","queries":[{"type":"and","negate":true,"queries":[` + lead + `]}]}`, "", false},
		{`{"type":"has_related","this_object_type":"lead","related_object_type":"contact","related_query":{"type":"object_type","object_type":"contact"}}`, "", false},
		{`{"type":"match_all"}`, "", false},
		{urlSet, "", false},
	}
	for _, tc := range tests {
		got, ok := ObjectTypeOf(mustNode(t, tc.in))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("ObjectTypeOf(%s) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.wantOK)
		}
	}
	for _, rq := range realQueries(t) {
		req, err := Decode(rq.data)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ObjectTypeOf(req.Query); !ok {
			t.Errorf("%s: no object type", rq.name)
		}
	}
	if _, ok := ObjectTypeOf(nil); ok {
		t.Error("ObjectTypeOf(nil) ok")
	}
}

func TestMatchesEverything(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"match_all", `{"type":"match_all"}`, true},
		{"empty and", `{"type":"and","queries":[]}`, true},
		{"lone object_type", lead, true},
		{"object_type and match_all", leadsWhere(`{"type":"match_all"}`), true},
		{"object_type twice, nested", `{"type":"and","queries":[` + lead + `,{"type":"and","queries":[` + lead + `,{"type":"and","queries":[]}]}]}`, true},
		{"negated root", negated(leadsWhere(urlSet)), true},
		{"negated root field", negated(urlSet), true},
		{"negated match_all root", negated(`{"type":"match_all"}`), true},
		{"negated other object type", leadsWhere(negated(`{"type":"object_type","object_type":"contact"}`)), true},
		{"or with an unfiltered member", leadsWhere(`{"type":"or","queries":[` + urlSet + `,{"type":"match_all"}]}`), true},
		{"empty or", leadsWhere(`{"type":"or","queries":[]}`), true},
		{"not of nothing", leadsWhere(`{"type":"and","negate":true,"queries":[` + negated(`{"type":"match_all"}`) + `]}`), true},
		{"not has_related nothing", leadsWhere(negated(`{"type":"has_related","this_object_type":"lead","related_object_type":"contact","related_query":{"type":"match_all","negate":true}}`)), true},
		{"not an empty or", leadsWhere(`{"type":"or","negate":true,"queries":[]}`), true},
		{"filtered", leadsWhere(urlSet), false},
		{"filter inside nested and", `{"type":"and","queries":[` + lead + `,{"type":"and","queries":[` + lead + `,` + urlSet + `]}]}`, false},
		{"negated filter", leadsWhere(negated(urlSet)), false},
		{"negated match_all inside (matches nothing)", leadsWhere(negated(`{"type":"match_all"}`)), false},
		{"or of filters", leadsWhere(`{"type":"or","queries":[` + urlSet + `,{"type":"id","value":"lead_a"}]}`), false},
		{"has_related", leadsWhere(`{"type":"has_related","this_object_type":"lead","related_object_type":"contact","related_query":{"type":"match_all"}}`), false},
		{"saved_search", leadsWhere(`{"type":"saved_search","saved_search_id":"save_a"}`), false},
		{"text", leadsWhere(`{"type":"text","mode":"phrase","value":"x"}`), false},
		{"unknown node counts as a filter", leadsWhere(`{"type":"geo"}`), false},
	}
	for _, tc := range tests {
		if got := MatchesEverything(mustNode(t, tc.in)); got != tc.want {
			t.Errorf("%s: MatchesEverything = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !MatchesEverything(nil) {
		t.Error("MatchesEverything(nil) = false")
	}
	for _, rq := range realQueries(t) {
		req, _ := Decode(rq.data)
		if MatchesEverything(req.Query) {
			t.Errorf("%s: real query counted as match-everything", rq.name)
		}
	}
}

func TestWalk(t *testing.T) {
	n := mustNode(t, `{"type":"and","queries":[`+lead+`,{"type":"or","queries":[`+urlSet+`,{"type":"geo"}]},{"type":"has_related","this_object_type":"lead","related_object_type":"contact","related_query":{"type":"and","queries":[{"type":"match_all"}]}}]}`)
	var got []string
	Walk(n, func(p string, n Node) bool {
		got = append(got, p+" "+n.NodeType())
		return true
	})
	want := []string{
		" and",
		"/queries/0 object_type",
		"/queries/1 or",
		"/queries/1/queries/0 field_condition",
		"/queries/1/queries/1 geo",
		"/queries/2 has_related",
		"/queries/2/related_query and",
		"/queries/2/related_query/queries/0 match_all",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Walk visited\n%q\nwant\n%q", got, want)
	}
	// Returning false skips the children.
	got = nil
	Walk(n, func(p string, n Node) bool {
		got = append(got, p)
		return n.NodeType() == "and" && p == ""
	})
	if want := []string{"", "/queries/0", "/queries/1", "/queries/2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Walk with pruning visited %q, want %q", got, want)
	}
	// Walk's pointers are those Decode reports for a bare node.
	_, unrec, _ := DecodeNode([]byte(`{"type":"and","queries":[` + lead + `,{"type":"or","queries":[` + urlSet + `,{"type":"geo"}]}]}`))
	if len(unrec) != 1 || unrec[0].Pointer != "/queries/1/queries/1" {
		t.Errorf("unrecognised = %v", unrec)
	}
	Walk(nil, func(string, Node) bool { t.Error("visited nil"); return true })
}
