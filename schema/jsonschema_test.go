package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	sjs "github.com/santhosh-tekuri/jsonschema/v6"
)

const goldenSchema = "testdata/query.schema.json"

func TestQuerySchemaGolden(t *testing.T) {
	got := QuerySchema()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	if *update {
		if err := os.WriteFile(goldenSchema, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenSchema)
	if err != nil {
		t.Fatalf("%v (run go test ./schema/ -run Golden -update)", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("QuerySchema differs from %s; run go test ./schema/ -run Golden -update and review the diff", goldenSchema)
	}
	// Deterministic: a second build is byte-identical.
	if !bytes.Equal(got, QuerySchema()) {
		t.Error("QuerySchema is not deterministic")
	}
}

// The grammar schema is embedded in every tool that takes a query, so it
// must stay small.
func TestQuerySchemaSize(t *testing.T) {
	var b bytes.Buffer
	if err := json.Compact(&b, QuerySchema()); err != nil {
		t.Fatal(err)
	}
	const limit = 8192
	t.Logf("QuerySchema minified: %d bytes", b.Len())
	if b.Len() > limit {
		t.Errorf("QuerySchema minified is %d bytes; the budget is %d", b.Len(), limit)
	}
}

func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(QuerySchema(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestQuerySchemaShape(t *testing.T) {
	doc := schemaDoc(t)
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", doc["$schema"])
	}
	if doc["type"] != "object" {
		t.Errorf("root type = %v", doc["type"])
	}
	if _, ok := doc["$ref"]; ok {
		t.Error("root has a $ref")
	}
	if _, ok := doc["$id"]; ok {
		t.Error("root has an $id")
	}
	props := doc["properties"].(map[string]any)
	if ref := props["s_query"].(map[string]any)["$ref"]; ref != "#/$defs/query" {
		t.Errorf("s_query = %v", props["s_query"])
	}
	sortProp := props["sort"].(map[string]any)
	if sortProp["type"] != "array" || sortProp["items"].(map[string]any)["$ref"] != "#/$defs/sort_spec" {
		t.Errorf("sort = %v", sortProp)
	}
	if req, _ := doc["required"].([]any); len(req) != 1 || req[0] != "s_query" {
		t.Errorf("required = %v", doc["required"])
	}
	defs := doc["$defs"].(map[string]any)
	for _, name := range []string{"query", "sort_spec"} {
		if _, ok := defs[name]; !ok {
			t.Errorf("$defs has no %q", name)
		}
	}
	// The recursive query is defined once: nothing but $defs/query holds
	// the node union, everything else refers to it.
	raw := string(QuerySchema())
	if n := strings.Count(raw, `"const":"has_related"`); n != 1 {
		t.Errorf("node union appears %d times", n)
	}
	for _, s := range []string{"Variant", "Union", "queryRef", "$id", "github.com"} {
		if strings.Contains(raw, s) {
			t.Errorf("schema leaks %q", s)
		}
	}
}

// Each union is a oneOf whose variants are told apart by a "type" const,
// and the consts are exactly the types Decode knows.
func TestQuerySchemaUnions(t *testing.T) {
	defs := schemaDoc(t)["$defs"].(map[string]any)
	want := map[string][]string{
		"query":     {"and", "or", "object_type", "id", "text", "field_condition", "has_related", "saved_search", "match_all"},
		"condition": {"text", "term", "boolean", "number_range", "reference", "current_user", "exists", "moment_range"},
		"field":     {"regular_field", "custom_field"},
		"moment":    {"now", "fixed_utc", "fixed_local_date", "offset", "start_end_of_predefined_relative_period"},
	}
	for name, types := range want {
		u := defs[name].(map[string]any)
		var got []string
		for _, v := range u["oneOf"].([]any) {
			props := v.(map[string]any)["properties"].(map[string]any)
			c, ok := props["type"].(map[string]any)["const"].(string)
			if !ok {
				t.Errorf("%s: a variant has no type const: %v", name, v)
			}
			got = append(got, c)
		}
		sort.Strings(got)
		sort.Strings(types)
		if strings.Join(got, ",") != strings.Join(types, ",") {
			t.Errorf("%s variants = %v, want %v", name, got, types)
		}
		if req, _ := u["required"].([]any); len(req) != 1 || req[0] != "type" {
			t.Errorf("%s: union does not require type: %v", name, u["required"])
		}
	}
	// And Decode knows each of them: a minimal instance of every node type
	// decodes without being reported as unrecognised.
	for _, ex := range closeExamples {
		_, unrec, _ := DecodeNode([]byte(ex.node))
		if len(unrec) != 0 {
			t.Errorf("%s: %v", ex.name, unrec)
		}
	}
}

// Every property carries a description, its own or that of the definition
// it refers to, and so do the definitions.
func TestQuerySchemaDescriptions(t *testing.T) {
	doc := schemaDoc(t)
	defs := doc["$defs"].(map[string]any)
	described := func(s map[string]any) bool {
		if d, _ := s["description"].(string); d != "" {
			return true
		}
		if ref, ok := s["$ref"].(string); ok {
			target, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			d, _ := target["description"].(string)
			return d != ""
		}
		return false
	}
	var visit func(path string, s map[string]any)
	visit = func(path string, s map[string]any) {
		if props, ok := s["properties"].(map[string]any); ok {
			for name, p := range props {
				ps := p.(map[string]any)
				if !described(ps) {
					t.Errorf("%s/properties/%s has no description", path, name)
				}
				visit(path+"/properties/"+name, ps)
			}
		}
		for _, k := range []string{"oneOf", "anyOf"} {
			if arr, ok := s[k].([]any); ok {
				for i, v := range arr {
					visit(path+"/"+k+"/"+strconv.Itoa(i), v.(map[string]any))
				}
			}
		}
		if items, ok := s["items"].(map[string]any); ok {
			visit(path+"/items", items)
		}
	}
	visit("", doc)
	for name, d := range defs {
		if !described(d.(map[string]any)) {
			t.Errorf("$defs/%s has no description", name)
		}
		visit("/$defs/"+name, d.(map[string]any))
	}
	// What a model needs to write a valid query is in the descriptions.
	raw := string(QuerySchema())
	for _, hint := range []string{
		`FIRST member is an object_type`,            // object_type first in a top-level and
		`{\"type\":\"and\",\"queries\":[{\"type\":`, // an example
		`date→moment_range`,                         // which field types take which conditions
		`stat_/user_ ids from lookup`,               // reference ids come from lookup
		`status.lead for status_id`,                 // which reference_type
		`cf_… id from lookup`,                       // custom fields by id
		`negate the field_condition for empty`,      // how to say "is empty"
		`All seven keys, zeros too.`,                // offset needs every unit
		`decides which matches fall inside results_limit`,
	} {
		if !strings.Contains(raw, hint) {
			t.Errorf("schema lacks the hint %q", hint)
		}
	}
}

func compileSchema(t *testing.T, doc []byte) *sjs.Schema {
	t.Helper()
	v, err := sjs.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := sjs.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("mem:///query.schema.json", v); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("mem:///query.schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return s
}

// The generated document is valid JSON Schema 2020-12: it validates
// against the 2020-12 meta-schema and compiles.
func TestQuerySchemaIsValid2020_12(t *testing.T) {
	c := sjs.NewCompiler()
	meta, err := c.Compile("https://json-schema.org/draft/2020-12/schema")
	if err != nil {
		t.Fatal(err)
	}
	v, err := sjs.UnmarshalJSON(bytes.NewReader(QuerySchema()))
	if err != nil {
		t.Fatal(err)
	}
	if err := meta.Validate(v); err != nil {
		t.Errorf("QuerySchema is not a valid 2020-12 schema: %v", err)
	}
	compileSchema(t, QuerySchema())
}

func validate(t *testing.T, s *sjs.Schema, doc string) error {
	t.Helper()
	v, err := sjs.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s.Validate(v)
}

// Every example and real query's bare node validates as s_query (with its
// sort, where it has one).
func TestQuerySchemaAcceptsRealQueries(t *testing.T) {
	s := compileSchema(t, QuerySchema())
	for _, rq := range realQueries(t) {
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(rq.data, &doc); err != nil {
			t.Fatal(err)
		}
		in := `{"s_query":` + string(doc["query"])
		if srt, ok := doc["sort"]; ok {
			in += `,"sort":` + string(srt)
		}
		in += "}"
		if err := validate(t, s, in); err != nil {
			t.Errorf("%s: %v", rq.name, err)
		}
	}
	for _, ex := range closeExamples {
		if err := validate(t, s, `{"s_query":`+ex.node+`}`); err != nil {
			t.Errorf("%s: %v", ex.name, err)
		}
	}
	if err := validate(t, s, `{"s_query":`+closeExamples[0].node+`,"sort":`+closeExampleSort+`}`); err != nil {
		t.Errorf("1.2 create request: %v", err)
	}
	// Keys Close's UI adds (and Decode keeps) are allowed.
	if err := validate(t, s, `{"s_query":{"type":"match_all","_comment":"x","limit":null}}`); err != nil {
		t.Errorf("extra keys: %v", err)
	}
}

func TestQuerySchemaRejects(t *testing.T) {
	s := compileSchema(t, QuerySchema())
	bad := []struct{ name, in string }{
		{"no s_query", `{}`},
		{"unknown root key", `{"s_query":{"type":"match_all"},"results":1}`},
		{"node not an object", `{"s_query":"lead"}`},
		{"node without type", `{"s_query":{"object_type":"lead"}}`},
		{"unknown node type", `{"s_query":{"type":"not"}}`},
		{"and without queries", `{"s_query":{"type":"and"}}`},
		{"bad text mode", `{"s_query":{"type":"text","mode":"fuzzy","value":"x"}}`},
		{"negate not boolean", `{"s_query":{"type":"match_all","negate":"yes"}}`},
		{"number_range without bound", `{"s_query":` + withCond(`{"type":"number_range"}`) + `}`},
		{"number_range bound a string", `{"s_query":` + withCond(`{"type":"number_range","gt":"1"}`) + `}`},
		{"moment_range missing before", `{"s_query":` + withCond(`{"type":"moment_range","on_or_after":{"type":"now"}}`) + `}`},
		{"offset missing unit", `{"s_query":` + withMoment(`{"type":"offset","direction":"past","moment":{"type":"now"},"offset":{"days":1},"which_day_end":"start"}`) + `}`},
		{"offset negative", `{"s_query":` + withMoment(`{"type":"offset","direction":"past","moment":{"type":"now"},"offset":{"years":0,"months":0,"weeks":0,"days":-1,"hours":0,"minutes":0,"seconds":0},"which_day_end":"start"}`) + `}`},
		{"bad date", `{"s_query":` + withMoment(`{"type":"fixed_local_date","value":"01/02/2024","which":"start"}`) + `}`},
		{"bad which", `{"s_query":` + withMoment(`{"type":"fixed_local_date","value":"2024-01-02","which":"noon"}`) + `}`},
		{"field without field_name", `{"s_query":{"type":"field_condition","field":{"type":"regular_field","object_type":"lead"},"condition":{"type":"exists"}}}`},
		{"deep bad node", `{"s_query":{"type":"and","queries":[{"type":"or","queries":[{"type":"id"}]}]}}`},
		{"bad sort direction", `{"s_query":{"type":"match_all"},"sort":[{"direction":"up","field":{"type":"custom_field","custom_field_id":"cf_a"}}]}`},
	}
	for _, tc := range bad {
		if err := validate(t, s, tc.in); err == nil {
			t.Errorf("%s: validated", tc.name)
		}
	}
}

// A tool embeds the grammar by copying GrammarDefs into its own $defs and
// referring to #/$defs/query and #/$defs/sort_spec.
func TestGrammarDefsEmbed(t *testing.T) {
	defs := GrammarDefs()
	tool := map[string]any{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type":    "object",
		"properties": map[string]any{
			"s_query":       map[string]any{"$ref": "#/$defs/query"},
			"sort":          map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/sort_spec"}},
			"results_limit": map[string]any{"type": []string{"integer", "null"}},
		},
		"$defs": defs,
	}
	raw, err := json.Marshal(tool)
	if err != nil {
		t.Fatal(err)
	}
	s := compileSchema(t, raw)
	if err := validate(t, s, `{"s_query":`+closeExamples[0].node+`,"sort":`+closeExampleSort+`,"results_limit":null}`); err != nil {
		t.Error(err)
	}
	// Each call returns values of its own.
	defs["query"].Description = "changed"
	delete(defs, "moment")
	again := GrammarDefs()
	if again["query"].Description == "changed" || again["moment"] == nil {
		t.Error("GrammarDefs shares state between calls")
	}
	for _, name := range []string{"query", "condition", "field", "moment", "sort_spec"} {
		if again[name] == nil {
			t.Errorf("GrammarDefs lacks %q", name)
		}
		if again[name].Version != "" || again[name].ID != "" {
			t.Errorf("%s carries $schema/$id", name)
		}
	}
}
