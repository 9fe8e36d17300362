package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Every real query decodes as a wrapper, re-encodes to the JSON it came
// from, carries its results_limit and sort out, and reports exactly the
// wrapper keys bulkguard does not forward.
func TestRealQueriesRoundTrip(t *testing.T) {
	for _, rq := range realQueries(t) {
		t.Run(rq.name, func(t *testing.T) {
			req, err := Decode(rq.data)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !req.Wrapped {
				t.Error("Wrapped = false for a {query: …} document")
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(rq.data, &doc); err != nil {
				t.Fatal(err)
			}

			enc, err := Encode(req.Query)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if got, want := normJSON(t, enc), normJSON(t, doc["query"]); got != want {
				t.Errorf("query does not round-trip\n got %s\nwant %s", got, want)
			}

			encSort, err := EncodeSort(req.Sort)
			if err != nil {
				t.Fatalf("EncodeSort: %v", err)
			}
			wantSort := json.RawMessage("[]")
			if s, ok := doc["sort"]; ok && string(s) != "null" {
				wantSort = s
			}
			if got, want := normJSON(t, encSort), normJSON(t, wantSort); got != want {
				t.Errorf("sort does not round-trip\n got %s\nwant %s", got, want)
			}

			var wantLimit *int
			if rl, ok := doc["results_limit"]; ok {
				_ = json.Unmarshal(rl, &wantLimit)
			}
			if !reflect.DeepEqual(req.ResultsLimit, wantLimit) {
				t.Errorf("ResultsLimit = %v, want %v", ptrStr(req.ResultsLimit), ptrStr(wantLimit))
			}

			var wantUnrec []Unrecognised
			for _, k := range sortedKeys(doc) {
				if k != "query" && k != "sort" && k != "results_limit" {
					wantUnrec = append(wantUnrec, Unrecognised{Pointer: "/" + k, What: "key", Name: k})
				}
			}
			gotUnrec := append([]Unrecognised(nil), req.Unrecognised...)
			sortUnrec(gotUnrec)
			if !reflect.DeepEqual(gotUnrec, wantUnrec) {
				t.Errorf("Unrecognised = %v, want %v", gotUnrec, wantUnrec)
			}

			// The bare node decodes on its own too, with nothing to report.
			n, unrec, err := DecodeNode(doc["query"])
			if err != nil {
				t.Fatalf("DecodeNode: %v", err)
			}
			if len(unrec) != 0 {
				t.Errorf("DecodeNode reported %v", unrec)
			}
			if Digest(n) != Digest(req.Query) {
				t.Error("bare and wrapped decodes differ")
			}
			if d := Describe(n); d == "" || strings.Contains(d, "[unrecognised") {
				t.Errorf("Describe = %q", d)
			}
		})
	}
}

func ptrStr(p *int) string {
	if p == nil {
		return "nil"
	}
	return strconv.Itoa(*p)
}

func sortUnrec(u []Unrecognised) {
	for i := range u {
		for j := i + 1; j < len(u); j++ {
			if u[j].Pointer < u[i].Pointer {
				u[i], u[j] = u[j], u[i]
			}
		}
	}
}

// Every example of docs/close-api.md decodes, re-encodes equivalently (compact
// and key-order normalised: byte-equal) and describes without placeholders.
func TestCloseExamplesRoundTrip(t *testing.T) {
	for _, ex := range closeExamples {
		t.Run(ex.name, func(t *testing.T) {
			n, unrec, err := DecodeNode([]byte(ex.node))
			if err != nil {
				t.Fatalf("DecodeNode: %v", err)
			}
			if len(unrec) != 0 {
				t.Errorf("unrecognised: %v", unrec)
			}
			enc, err := Encode(n)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := normJSON(t, enc), normJSON(t, []byte(ex.node)); got != want {
				t.Errorf("round trip\n got %s\nwant %s", got, want)
			}
			// Same bytes through encoding/json (MarshalJSON).
			viaMarshal, err := json.Marshal(n)
			if err != nil {
				t.Fatal(err)
			}
			if normJSON(t, viaMarshal) != normJSON(t, enc) {
				t.Errorf("json.Marshal = %s, Encode = %s", viaMarshal, enc)
			}
			if d := Describe(n); strings.Contains(d, "[") {
				t.Errorf("Describe shows a placeholder: %q", d)
			}
		})
	}
	s, err := DecodeSort([]byte(closeExampleSort))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := EncodeSort(s)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := normJSON(t, enc), normJSON(t, []byte(closeExampleSort)); got != want {
		t.Errorf("sort round trip\n got %s\nwant %s", got, want)
	}
	if got := DescribeSort(s); got != "newest created first" {
		t.Errorf("DescribeSort = %q", got)
	}
}

func TestDecodeValues(t *testing.T) {
	n, _, err := DecodeNode([]byte(`{"type":"and","negate":false,"queries":[
		{"type":"object_type","object_type":"lead"},
		{"type":"field_condition","negate":true,
		 "field":{"type":"regular_field","object_type":"lead","field_name":"addresses_count"},
		 "condition":{"type":"number_range","gte":1.5,"lt":10}},
		{"type":"field_condition",
		 "field":{"type":"custom_field","custom_field_id":"cf_x"},
		 "condition":{"type":"moment_range","on_or_after":null,"before":{"type":"offset","direction":"future","moment":{"type":"fixed_local_date","value":"2024-02-29","which":"end"},"offset":{"years":1,"months":2,"weeks":3,"days":4,"hours":5,"minutes":6,"seconds":7},"which_day_end":"end"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	gte, lt := 1.5, 10.0
	want := &And{Common: Common{NegatePresent: true}, Queries: []Node{
		&ObjectType{ObjectType: "lead"},
		&FieldCondition{Common: Common{Negate: true, NegatePresent: true},
			Field:     &RegularField{ObjectType: "lead", FieldName: "addresses_count"},
			Condition: &NumberRange{GTE: &gte, LT: &lt}},
		&FieldCondition{
			Field: &CustomField{CustomFieldID: "cf_x"},
			Condition: &MomentRange{Before: &Offset{Direction: "future",
				Moment:      &FixedLocalDate{Value: "2024-02-29", Which: End},
				Offset:      Duration{1, 2, 3, 4, 5, 6, 7},
				WhichDayEnd: End}}},
	}}
	if !reflect.DeepEqual(n, want) {
		got, _ := json.Marshal(n)
		wantJSON, _ := json.Marshal(want)
		t.Errorf("decoded\n%s\nwant\n%s", got, wantJSON)
	}
}

// Unknown types are kept verbatim and reported with their pointers;
// unknown keys on known constructs are kept in Extra and reported.
func TestDecodeUnrecognised(t *testing.T) {
	in := `{"query":{"type":"and","_comment":"cleanup","queries":[
	  {"type":"object_type","object_type":"lead","limit":null},
	  {"type":"geo_within","center":{"lat":1.50,"lng":2},"negate":true},
	  {"type":"field_condition",
	   "field":{"type":"regular_field","object_type":"lead","field_name":"name","boost":2},
	   "condition":{"type":"geo_distance","km":5}},
	  {"type":"field_condition",
	   "field":{"type":"computed_field","expr":"a+b"},
	   "condition":{"type":"moment_range","on_or_after":{"type":"start_of_fiscal_year"},"before":{"type":"now","tz":"UTC"},"hint":1}}
	]},"sort":[{"direction":"asc","field":{"type":"regular_field","object_type":"lead","field_name":"name","x":1}}],"_limit":5}`
	req, err := Decode([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Unrecognised{
		{"/query/queries/0/limit", "key", "limit"},
		{"/query/queries/1", "node", "geo_within"},
		{"/query/queries/2/field/boost", "key", "boost"},
		{"/query/queries/2/condition", "condition", "geo_distance"},
		{"/query/queries/3/field", "field", "computed_field"},
		{"/query/queries/3/condition/on_or_after", "moment", "start_of_fiscal_year"},
		{"/query/queries/3/condition/before/tz", "key", "tz"},
		{"/query/queries/3/condition/hint", "key", "hint"},
		{"/query/_comment", "key", "_comment"},
		{"/sort/0/field/x", "key", "x"},
		{"/_limit", "key", "_limit"},
	}
	if !reflect.DeepEqual(req.Unrecognised, want) {
		t.Errorf("Unrecognised =\n%v\nwant\n%v", req.Unrecognised, want)
	}
	and := req.Query.(*And)
	if got := string(and.Extra["_comment"]); got != `"cleanup"` {
		t.Errorf(`Extra["_comment"] = %s`, got)
	}
	u, ok := and.Queries[1].(*UnknownNode)
	if !ok {
		t.Fatalf("queries[1] is %T", and.Queries[1])
	}
	if u.Type != "geo_within" || string(u.Raw) != `{"type":"geo_within","center":{"lat":1.50,"lng":2},"negate":true}` || !u.Negated() {
		t.Errorf("UnknownNode = %+v (raw %s)", u, u.Raw)
	}
	enc, err := Encode(req.Query)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Query json.RawMessage }
	_ = json.Unmarshal([]byte(in), &doc)
	if got, want := normJSON(t, enc), normJSON(t, doc.Query); got != want {
		t.Errorf("round trip\n got %s\nwant %s", got, want)
	}
	// Verbatim: the unknown node's number keeps its spelling.
	if !strings.Contains(string(enc), `"lat":1.50`) {
		t.Errorf("unknown raw not verbatim: %s", enc)
	}
	// DecodeSort cannot report, so it refuses what Decode keeps.
	_, err = DecodeSort([]byte(`[{"direction":"asc","field":{"type":"regular_field","object_type":"lead","field_name":"name","x":1}}]`))
	wantErr(t, err, "/0/field/x", `unknown key "x"`)
	_, err = DecodeSort([]byte(`[{"direction":"asc","field":{"type":"computed_field"}}]`))
	wantErr(t, err, "/0/field", `unknown field type "computed_field"`)
}

func wantErr(t *testing.T, err error, pointer, problem string) {
	t.Helper()
	var de *DecodeError
	if !errors.As(err, &de) {
		t.Fatalf("error = %v (%T), want *DecodeError at %q", err, err, pointer)
	}
	if de.Pointer != pointer {
		t.Errorf("pointer = %q, want %q (problem: %s)", de.Pointer, pointer, de.Problem)
	}
	if !strings.Contains(de.Problem, problem) {
		t.Errorf("problem = %q, want it to contain %q", de.Problem, problem)
	}
}

const fc = `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"date_created"},"condition":%s}`

func withCond(cond string) string { return strings.Replace(fc, "%s", cond, 1) }

func withMoment(m string) string {
	return withCond(`{"type":"moment_range","before":null,"on_or_after":` + m + `}`)
}

var malformed = []struct {
	name, in, pointer, problem string
	node                       bool // DecodeNode instead of Decode
}{
	{"invalid JSON", `{"type":"and",`, "", "not valid JSON", false},
	{"empty input", ``, "", "input is empty", false},
	{"invalid UTF-8", "{\"type\":\"id\",\"value\":\"\xff\"}", "", "not valid UTF-8", false},
	{"root array", `[{"type":"and","queries":[]}]`, "", "expected a query node or a {\"query\": …} wrapper (a JSON object), got an array", false},
	{"root string", `"lead"`, "", "got a string", false},
	{"missing type", `{"queries":[]}`, "", `missing required property "type"`, false},
	{"type not a string", `{"type":5}`, "/type", "expected a string, got a number", false},
	{"empty type", `{"type":""}`, "/type", "must not be empty", false},
	{"and without queries", `{"type":"and"}`, "", `missing required property "queries"`, false},
	{"queries not an array", `{"type":"and","queries":{}}`, "/queries", "expected an array of query nodes, got an object", false},
	{"child not an object", `{"type":"or","queries":[{"type":"match_all"},1]}`, "/queries/1", "expected a query node (a JSON object), got a number", false},
	{"negate not a boolean", `{"type":"match_all","negate":"yes"}`, "/negate", "expected a boolean (true or false), got a string", false},
	{"negate null", `{"type":"match_all","negate":null}`, "/negate", "got null", false},
	{"duplicate key", `{"type":"and","queries":[],"type":"or"}`, "/type", `duplicate key "type"`, false},
	{"duplicate key escaped", `{"type":"match_all","a/b":1,"a/b":2}`, "/a~1b", `duplicate key "a/b"`, false},
	{"object_type missing value", `{"type":"object_type"}`, "", `missing required property "object_type"`, false},
	{"id value number", `{"type":"id","value":12}`, "/value", "expected a string, got a number", false},
	{"text bad mode", `{"type":"text","mode":"fuzzy","value":"x"}`, "/mode", `must be one of "full_words", "phrase", "beginning_of_words", "exact_value"; got "fuzzy"`, false},
	{"text empty value", `{"type":"text","mode":"phrase","value":""}`, "/value", "must not be empty", false},
	{"field_condition without condition", `{"type":"field_condition","field":{"type":"custom_field","custom_field_id":"cf_x"}}`, "", `missing required property "condition"`, false},
	{"field not an object", `{"type":"field_condition","field":"name","condition":{"type":"exists"}}`, "/field", "expected a field (a JSON object), got a string", false},
	{"regular_field without field_name", `{"type":"field_condition","field":{"type":"regular_field","object_type":"lead"},"condition":{"type":"exists"}}`, "/field", `missing required property "field_name"`, false},
	{"condition null", withCond(`null`), "/condition", "expected a condition (a JSON object), got null", false},
	{"number_range bound a string", withCond(`{"type":"number_range","gt":"5"}`), "/condition/gt", "expected a number, got a string", false},
	{"number_range no bound", withCond(`{"type":"number_range"}`), "/condition", "number_range needs at least one bound", false},
	{"number_range out of range", withCond(`{"type":"number_range","lt":1e400}`), "/condition/lt", "out of range", false},
	{"number_range integer too large", withCond(`{"type":"number_range","lt":12345678901234567890}`), "/condition/lt", "too large", false},
	{"term empty values", withCond(`{"type":"term","values":[]}`), "/condition/values", "at least one value", false},
	{"term value not a string", withCond(`{"type":"term","values":["a",2]}`), "/condition/values/1", "expected a string, got a number", false},
	{"boolean without value", withCond(`{"type":"boolean"}`), "/condition", `missing required property "value"`, false},
	{"reference ids not an array", withCond(`{"type":"reference","reference_type":"user","object_ids":"user_a"}`), "/condition/object_ids", "expected an array of strings, got a string", false},
	{"moment_range missing before", withCond(`{"type":"moment_range","on_or_after":{"type":"now"}}`), "/condition", `missing required property "before" (use null for an open end)`, false},
	{"moment_range open both ends", withCond(`{"type":"moment_range","on_or_after":null,"before":null}`), "/condition", "at least one of", false},
	{"moment not an object", withMoment(`"2024-01-01"`), "/condition/on_or_after", "expected a moment (a JSON object), got a string", false},
	{"fixed_utc without offset", withMoment(`{"type":"fixed_utc","value":"2024-01-01T00:00:00"}`), "/condition/on_or_after/value", "ISO-8601 date-time with an offset", false},
	{"fixed_local_date bad date", withMoment(`{"type":"fixed_local_date","value":"2024-13-01","which":"start"}`), "/condition/on_or_after/value", "YYYY-MM-DD", false},
	{"fixed_local_date bad which", withMoment(`{"type":"fixed_local_date","value":"2024-01-01","which":"middle"}`), "/condition/on_or_after/which", `must be one of "start", "end"; got "middle"`, false},
	{"offset bad direction", withMoment(`{"type":"offset","direction":"back","moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"days":1,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}`), "/condition/on_or_after/direction", `must be one of "past", "future"`, false},
	{"offset missing days", withMoment(`{"type":"offset","direction":"past","moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}`), "/condition/on_or_after/offset", `missing required property "days"`, false},
	{"offset unknown unit", withMoment(`{"type":"offset","direction":"past","moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"days":1,"hours":0,"minutes":0,"seconds":0,"millis":5},"which_day_end":"start"}`), "/condition/on_or_after/offset/millis", `unknown key "millis"`, false},
	{"offset negative", withMoment(`{"type":"offset","direction":"past","moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"days":-1,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}`), "/condition/on_or_after/offset/days", "non-negative integer", false},
	{"offset fractional", withMoment(`{"type":"offset","direction":"past","moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"days":1.5,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}`), "/condition/on_or_after/offset/days", "non-negative integer", false},
	{"offset without moment", withMoment(`{"type":"offset","direction":"past","offset":{"years":0,"months":0,"weeks":0,"days":1,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}`), "/condition/on_or_after", `missing required property "moment"`, false},
	{"has_related without related_query", `{"type":"has_related","this_object_type":"lead","related_object_type":"contact"}`, "", `missing required property "related_query"`, false},
	{"has_related bad child", `{"type":"has_related","this_object_type":"lead","related_object_type":"contact","related_query":{"type":"id"}}`, "/related_query", `missing required property "value"`, false},
	{"wrapper query not an object", `{"query":"lead","results_limit":1}`, "/query", "expected a query node (a JSON object), got a string", false},
	{"wrapper nested pointer", `{"query":{"type":"and","queries":[{"type":"object_type","object_type":"lead"},` + withCond(`{"type":"number_range","gt":"x"}`) + `]}}`, "/query/queries/1/condition/gt", "expected a number", false},
	{"wrapper results_limit negative", `{"query":{"type":"match_all"},"results_limit":-1}`, "/results_limit", "non-negative integer", false},
	{"wrapper results_limit string", `{"query":{"type":"match_all"},"results_limit":"10"}`, "/results_limit", "got a string", false},
	{"wrapper sort not an array", `{"query":{"type":"match_all"},"sort":{}}`, "/sort", "expected an array of sort specs, got an object", false},
	{"wrapper sort bad direction", `{"query":{"type":"match_all"},"sort":[{"direction":"up","field":{"type":"custom_field","custom_field_id":"cf_x"}}]}`, "/sort/0/direction", `must be one of "asc", "desc"; got "up"`, false},
	{"wrapper sort unknown key", `{"query":{"type":"match_all"},"sort":[{"direction":"asc","field":{"type":"custom_field","custom_field_id":"cf_x"},"nulls":"last"}]}`, "/sort/0/nulls", `unknown key "nulls"`, false},
	{"DecodeNode given a wrapper", `{"query":{"type":"match_all"}}`, "", "looks like a {\"query\": …} wrapper", true},
	{"DecodeNode root array", `[]`, "", "expected a query node (a JSON object), got an array", true},
}

func TestDecodeErrors(t *testing.T) {
	if len(malformed) < 20 {
		t.Fatalf("only %d malformed inputs", len(malformed))
	}
	for _, tc := range malformed {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.node {
				_, _, err = DecodeNode([]byte(tc.in))
			} else {
				_, err = Decode([]byte(tc.in))
			}
			wantErr(t, err, tc.pointer, tc.problem)
			if err != nil && !strings.HasPrefix(err.Error(), pointerOrRoot(tc.pointer)+": ") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func pointerOrRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

func nested(levels int) string {
	return strings.Repeat(`{"type":"and","queries":[`, levels-1) + `{"type":"match_all"}` + strings.Repeat(`]}`, levels-1)
}

func flat(nodes int) string {
	return `{"type":"and","queries":[` + strings.TrimSuffix(strings.Repeat(`{"type":"match_all"},`, nodes-1), ",") + `]}`
}

func TestDecodeLimits(t *testing.T) {
	// Depth: the root is level 1; MaxDepth levels decode, one more does not.
	if _, _, err := DecodeNode([]byte(nested(MaxDepth))); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	_, _, err := DecodeNode([]byte(nested(MaxDepth + 1)))
	wantErr(t, err, strings.Repeat("/queries/0", MaxDepth), "nest deeper than 32 levels")
	// Inside a wrapper the pointer is relative to the wrapper.
	_, err = Decode([]byte(`{"query":` + nested(MaxDepth+1) + `}`))
	wantErr(t, err, "/query"+strings.Repeat("/queries/0", MaxDepth), "nest deeper than 32 levels")

	// Node count.
	if _, _, err := DecodeNode([]byte(flat(MaxNodes))); err != nil {
		t.Errorf("%d nodes: %v", MaxNodes, err)
	}
	_, _, err = DecodeNode([]byte(flat(MaxNodes + 1)))
	wantErr(t, err, "/queries/1999", "more than 2000 nodes")

	// Size: exactly MaxInputBytes decodes, one byte more does not.
	pad := func(size int) []byte {
		head := `{"type":"match_all","_pad":"`
		return []byte(head + strings.Repeat("x", size-len(head)-2) + `"}`)
	}
	if in := pad(MaxInputBytes); len(in) != MaxInputBytes {
		t.Fatalf("pad is %d bytes", len(in))
	}
	if _, _, err := DecodeNode(pad(MaxInputBytes)); err != nil {
		t.Errorf("%d bytes: %v", MaxInputBytes, err)
	}
	_, _, err = DecodeNode(pad(MaxInputBytes + 1))
	wantErr(t, err, "", "input is 262145 bytes; the limit is 262144 bytes (256 KiB)")
	_, err = Decode(pad(MaxInputBytes + 1))
	wantErr(t, err, "", "the limit is 262144 bytes")
	_, err = DecodeSort(append([]byte("["), append(pad(MaxInputBytes), ']')...))
	wantErr(t, err, "", "the limit is 262144 bytes")

	// Nested offset moments are bounded as well.
	m := `{"type":"now"}`
	for i := 0; i < MaxDepth; i++ {
		m = `{"type":"offset","direction":"past","moment":` + m + `,"offset":{"years":0,"months":0,"weeks":0,"days":1,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}`
	}
	_, _, err = DecodeNode([]byte(withMoment(m)))
	wantErr(t, err, "/condition/on_or_after"+strings.Repeat("/moment", MaxDepth), "moments nest deeper than 32 levels")
}

func TestDecodeWrapper(t *testing.T) {
	req, err := Decode([]byte(`{"query":{"type":"object_type","object_type":"lead"},"results_limit":null,"sort":null}`))
	if err != nil {
		t.Fatal(err)
	}
	if !req.Wrapped || req.ResultsLimit != nil || req.Sort != nil || len(req.Unrecognised) != 0 {
		t.Errorf("req = %+v", req)
	}
	// A bare node is not wrapped, even with a key named "query".
	req, err = Decode([]byte(`{"type":"match_all","query":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.Wrapped || !reflect.DeepEqual(req.Unrecognised, []Unrecognised{{"/query", "key", "query"}}) {
		t.Errorf("req = %+v", req)
	}
	// A query without a sort key carries no sort.
	req, err = Decode([]byte(`{"query":{"type":"match_all"},"results_limit":25}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.Sort != nil || req.ResultsLimit == nil || *req.ResultsLimit != 25 {
		t.Errorf("req = %+v", req)
	}
	// DecodeSort reads null as no sort and an empty array as none.
	for _, in := range []string{`null`, `[]`} {
		s, err := DecodeSort([]byte(in))
		if err != nil || len(s) != 0 {
			t.Errorf("DecodeSort(%s) = %v, %v", in, s, err)
		}
	}
}

// Decode keeps no reference to its input: changing the input afterwards
// changes nothing decoded, unknown raw JSON included.
func TestDecodeCopiesInput(t *testing.T) {
	in := []byte(`{"type":"geo","x":1}`)
	n, _, err := DecodeNode(in)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		in[i] = ' '
	}
	if got := string(n.(*UnknownNode).Raw); got != `{"type":"geo","x":1}` {
		t.Errorf("Raw = %q", got)
	}
}

// FuzzDecode: no input makes Decode panic, and whatever decodes re-encodes
// to something that decodes to the same canonical form and describes.
func FuzzDecode(f *testing.F) {
	for _, rq := range realQueries(f) {
		f.Add(rq.data)
	}
	for _, ex := range closeExamples {
		f.Add([]byte(ex.node))
	}
	for _, m := range malformed {
		f.Add([]byte(m.in))
	}
	f.Add([]byte(nested(MaxDepth + 1)))
	f.Add([]byte(`{"type":"and","queries":[{"type":"geo","negate":true},{"type":"match_all","_x":[1,{"a":null}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := Decode(data)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not *DecodeError: %v", err, err)
			}
			return
		}
		enc, err := Encode(req.Query)
		if err != nil {
			t.Fatalf("Encode of a decoded query: %v", err)
		}
		again, _, err := DecodeNode(enc)
		if err != nil {
			t.Fatalf("re-decode of %s: %v", enc, err)
		}
		if c1, c2 := Canonical(req.Query), Canonical(again); string(c1) != string(c2) || c1 == nil {
			t.Fatalf("canonical form changed over a round trip:\n%s\n%s", c1, c2)
		}
		if _, err := EncodeSort(req.Sort); err != nil {
			t.Fatalf("EncodeSort: %v", err)
		}
		if Describe(req.Query) == "" {
			t.Fatal("empty description")
		}
		_ = DescribeSort(req.Sort)
		_ = MatchesEverything(req.Query)
		_, _ = ObjectTypeOf(req.Query)
		Walk(req.Query, func(string, Node) bool { return true })
		_, _ = DecodeSort(data)
	})
}
