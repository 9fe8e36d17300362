package schema

import (
	"encoding/json"
	"regexp"
	"testing"
)

const base = `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`

func digestOf(t *testing.T, s string) string {
	t.Helper()
	n, _, err := DecodeNode([]byte(s))
	if err != nil {
		t.Fatalf("DecodeNode(%s): %v", s, err)
	}
	return Digest(n)
}

func TestDigestSameMeaning(t *testing.T) {
	same := []struct{ name, in string }{
		{"whitespace and key order", `{
		  "queries": [
		    {"object_type": "lead", "type": "object_type"},
		    {"condition": {"value": "ACME Inc.", "mode": "full_words", "type": "text"},
		     "field": {"field_name": "name", "object_type": "lead", "type": "regular_field"},
		     "type": "field_condition"},
		    {"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"gte":10,"type":"number_range"}}
		  ],
		  "type": "and"
		}`},
		{"negate false everywhere", `{"type":"and","negate":false,"queries":[{"type":"object_type","object_type":"lead","negate":false},{"type":"field_condition","negate":false,"field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"number spelling", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":1.0e1}}]}`},
		{"string escapes", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"\u0041CME Inc\u002e"}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
	}
	want := digestOf(t, base)
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(want) {
		t.Fatalf("Digest = %q", want)
	}
	for _, tc := range same {
		if got := digestOf(t, tc.in); got != want {
			n, _, _ := DecodeNode([]byte(tc.in))
			b, _, _ := DecodeNode([]byte(base))
			t.Errorf("%s: digest differs\n%s\n%s", tc.name, Canonical(n), Canonical(b))
		}
	}
	// Unknown constructs: key order and whitespace do not matter either.
	a := digestOf(t, `{"type":"geo","center":{"lat":1,"lng":2},"r":[1, 2]}`)
	b := digestOf(t, `{ "r":[1,2], "center":{"lng":2,"lat":1}, "type":"geo" }`)
	if a != b {
		t.Error("unknown node digests differ by key order")
	}
	// A hand-built node equals its decoded twin.
	ten := 10.0
	built := &And{Queries: []Node{
		&ObjectType{ObjectType: "lead"},
		&FieldCondition{Field: &RegularField{ObjectType: "lead", FieldName: "name"}, Condition: &TextCondition{Mode: FullWords, Value: "ACME Inc."}},
		&FieldCondition{Field: &RegularField{ObjectType: "lead", FieldName: "addresses_count"}, Condition: &NumberRange{GTE: &ten}},
	}}
	if Digest(built) != want {
		t.Error("hand-built query digest differs")
	}
}

func TestDigestRealChange(t *testing.T) {
	changed := []struct{ name, in string }{
		{"object type", `{"type":"and","queries":[{"type":"object_type","object_type":"contact"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"value", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc"}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"value case", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"acme inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"mode", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"phrase","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"field", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"display_name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"bound kind", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gt":10}}]}`},
		{"bound value", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10.000001}}]}`},
		{"negate one child", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","negate":true,"field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"negate root", `{"type":"and","negate":true,"queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"and to or", `{"type":"or","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"child removed", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}}]}`},
		{"child added", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}},{"type":"match_all"}]}`},
		{"extra key", `{"type":"and","_comment":"x","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
		{"custom field instead", `{"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"custom_field","custom_field_id":"cf_name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},"condition":{"type":"number_range","gte":10}}]}`},
	}
	seen := map[string]string{digestOf(t, base): "base"}
	for _, tc := range changed {
		d := digestOf(t, tc.in)
		if prev, dup := seen[d]; dup {
			t.Errorf("%s: same digest as %s", tc.name, prev)
		}
		seen[d] = tc.name
	}
	// Moments and other conditions: each variation is its own digest.
	variants := []string{
		withCond(`{"type":"moment_range","on_or_after":{"type":"now"},"before":null}`),
		withCond(`{"type":"moment_range","on_or_after":null,"before":{"type":"now"}}`),
		withMoment(`{"type":"fixed_local_date","value":"2024-01-01","which":"start"}`),
		withMoment(`{"type":"fixed_local_date","value":"2024-01-01","which":"end"}`),
		withMoment(`{"type":"fixed_local_date","value":"2024-01-02","which":"start"}`),
		withMoment(offset("past", 3, 0, "start")),
		withMoment(offset("future", 3, 0, "start")),
		withMoment(offset("past", 3, 0, "end")),
		withMoment(offset("past", 3, 1, "start")),
		withMoment(`{"type":"start_end_of_predefined_relative_period","range":"today","which":"start"}`),
		withMoment(`{"type":"fixed_utc","value":"2024-01-01T00:00:00+00:00"}`),
		withCond(`{"type":"term","values":["a","b"]}`),
		withCond(`{"type":"term","values":["b","a"]}`),
		withCond(`{"type":"reference","reference_type":"user","object_ids":["user_a"]}`),
		withCond(`{"type":"reference","reference_type":"user_or_group","object_ids":["user_a"]}`),
		withCond(`{"type":"boolean","value":true}`),
		withCond(`{"type":"boolean","value":false}`),
		withCond(`{"type":"exists"}`),
		withCond(`{"type":"current_user"}`),
		withCond(`{"type":"geo","r":1}`),
		withCond(`{"type":"geo","r":2}`),
		`{"type":"saved_search","saved_search_id":"save_a"}`,
		`{"type":"saved_search","saved_search_id":"save_b"}`,
		`{"type":"has_related","this_object_type":"lead","related_object_type":"contact","related_query":{"type":"match_all"}}`,
		`{"type":"has_related","this_object_type":"lead","related_object_type":"opportunity","related_query":{"type":"match_all"}}`,
		`{"type":"id","value":"lead_a"}`,
		`{"type":"text","mode":"phrase","value":"a"}`,
	}
	for _, v := range variants {
		d := digestOf(t, v)
		if prev, dup := seen[d]; dup {
			t.Errorf("%s: same digest as %s", v, prev)
		}
		seen[d] = v
	}
}

func TestCanonicalForm(t *testing.T) {
	n, _, err := DecodeNode([]byte(`{"negate":false,"type":"and","queries":[{"type":"match_all","negate":true,"_b":2,"_a":{"z":1,"y":[true,null]}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"queries":[{"_a":{"y":[true,null],"z":1},"_b":2,"negate":true,"type":"match_all"}],"type":"and"}`
	if got := string(Canonical(n)); got != want {
		t.Errorf("Canonical =\n%s\nwant\n%s", got, want)
	}
	// Encode keeps negate:false; Canonical drops it.
	enc, _ := Encode(n)
	var m map[string]any
	_ = json.Unmarshal(enc, &m)
	if m["negate"] != false {
		t.Errorf("Encode dropped negate:false: %s", enc)
	}
	// No canonical form for a tree with holes, so no digest to confuse.
	if c, d := Canonical(&And{Queries: []Node{nil}}), Digest(&And{Queries: []Node{nil}}); c != nil || d != "" {
		t.Errorf("Canonical/Digest of a broken tree = %q, %q", c, d)
	}
	if d := Digest(&UnknownNode{Type: "x", Raw: json.RawMessage(`{bad`)}); d != "" {
		t.Errorf("Digest of invalid raw = %q", d)
	}
}

func TestEncodeRefusesBrokenTrees(t *testing.T) {
	broken := []Node{
		nil,
		(*And)(nil),
		&And{Queries: []Node{nil}},
		&FieldCondition{Field: &CustomField{CustomFieldID: "cf_x"}},
		&FieldCondition{Condition: &Exists{}},
		&HasRelated{ThisObjectType: "lead", RelatedObjectType: "contact"},
		&FieldCondition{Field: &CustomField{CustomFieldID: "cf_x"}, Condition: &MomentRange{OnOrAfter: &Offset{Direction: "past"}}},
		&MatchAll{Common: Common{Extra: map[string]json.RawMessage{"type": json.RawMessage(`"and"`)}}},
		&MatchAll{Common: Common{Extra: map[string]json.RawMessage{"negate": json.RawMessage(`true`)}}},
		&MatchAll{Common: Common{Extra: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}},
		&UnknownNode{Type: "x"},
	}
	for _, n := range broken {
		if out, err := Encode(n); err == nil {
			t.Errorf("Encode(%#v) = %s, want an error", n, out)
		}
	}
}

func TestMarshalJSONMatchesEncode(t *testing.T) {
	one := 1.0
	values := []any{
		&ObjectType{ObjectType: "lead", Common: Common{Negate: true}},
		ID{Value: "lead_a"},
		Text{Mode: Phrase, Value: "a&b"},
		&SavedSearch{SavedSearchID: "save_a"},
		TextCondition{Mode: ExactValue, Value: "x"},
		Term{Values: []string{"a"}},
		Boolean{Value: true},
		NumberRange{LT: &one},
		Reference{ReferenceType: "user", ObjectIDs: []string{"user_a"}},
		CurrentUser{},
		Exists{},
		MomentRange{Before: &Now{}},
		UnknownCondition{Type: "g", Raw: json.RawMessage(`{"type":"g"}`)},
		RegularField{ObjectType: "lead", FieldName: "name"},
		CustomField{CustomFieldID: "cf_a"},
		UnknownField{Type: "f", Raw: json.RawMessage(`{"type": "f"}`)},
		FixedUTC{Value: "2024-01-01T00:00:00Z"},
		FixedLocalDate{Value: "2024-01-01", Which: Start},
		Offset{Direction: "past", Moment: &Now{}, WhichDayEnd: End},
		PredefinedPeriod{Range: "today", Which: End},
		UnknownMoment{Type: "m", Raw: json.RawMessage(`{"type":"m"}`)},
		Duration{Days: 2},
		Sort{Direction: "asc", Field: &CustomField{CustomFieldID: "cf_a"}},
	}
	want := []string{
		`{"type":"object_type","object_type":"lead","negate":true}`,
		`{"type":"id","value":"lead_a"}`,
		`{"type":"text","mode":"phrase","value":"a&b"}`,
		`{"type":"saved_search","saved_search_id":"save_a"}`,
		`{"type":"text","mode":"exact_value","value":"x"}`,
		`{"type":"term","values":["a"]}`,
		`{"type":"boolean","value":true}`,
		`{"type":"number_range","lt":1}`,
		`{"type":"reference","reference_type":"user","object_ids":["user_a"]}`,
		`{"type":"current_user"}`,
		`{"type":"exists"}`,
		`{"type":"moment_range","on_or_after":null,"before":{"type":"now"}}`,
		`{"type":"g"}`,
		`{"type":"regular_field","object_type":"lead","field_name":"name"}`,
		`{"type":"custom_field","custom_field_id":"cf_a"}`,
		`{"type":"f"}`,
		`{"type":"fixed_utc","value":"2024-01-01T00:00:00Z"}`,
		`{"type":"fixed_local_date","value":"2024-01-01","which":"start"}`,
		`{"type":"offset","direction":"past","moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"days":0,"hours":0,"minutes":0,"seconds":0},"which_day_end":"end"}`,
		`{"type":"start_end_of_predefined_relative_period","range":"today","which":"end"}`,
		`{"type":"m"}`,
		`{"years":0,"months":0,"weeks":0,"days":2,"hours":0,"minutes":0,"seconds":0}`,
		`{"direction":"asc","field":{"type":"custom_field","custom_field_id":"cf_a"}}`,
	}
	for i, v := range values {
		got, err := json.Marshal(v)
		if err != nil {
			t.Errorf("%T: %v", v, err)
			continue
		}
		// encoding/json HTML-escapes a Marshaler's output (& → \u0026);
		// the JSON value is the same.
		if normJSON(t, got) != normJSON(t, []byte(want[i])) {
			t.Errorf("%T:\n got %s\nwant %s", v, got, want[i])
		}
	}
	if s, _ := EncodeSort(nil); string(s) != "[]" {
		t.Errorf("EncodeSort(nil) = %s", s)
	}
}
