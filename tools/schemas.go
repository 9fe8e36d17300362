package tools

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sync"

	"github.com/invopop/jsonschema"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/schema"
)

// Schemas are reflected from the argument and result structs with
// invopop/jsonschema. DoNotReference + ExpandedStruct give a root of
// type:object with no top-level $ref, which MCP requires (docs/mcp-notes.md
// §A.3). $schema and $id are left out: 2020-12 is the default dialect, and
// the bytes count against the tools/list budget.

var (
	refQuery    = &jsonschema.Schema{Ref: "#/$defs/query"}
	refSortSpec = &jsonschema.Schema{Ref: "#/$defs/sort_spec"}
)

// schemaMapper supplies the schemas that reflection cannot know: the
// grammar references for s_query and sort, and Close's job object as an
// opaque object. Each call returns a fresh value because invopop writes the
// field's description into the returned schema.
func schemaMapper(t reflect.Type) *jsonschema.Schema {
	switch t {
	case reflect.TypeFor[queryArg]():
		// A bare query node, or the Smart View / Copy Filters wrapper
		// schema.Decode also accepts. anyOf rather than oneOf: a loose
		// reading of the node schema might also match the wrapper, and
		// oneOf would then reject a valid input. The wrapper's sort and
		// results_limit are checked by schema.Decode; spelling them out
		// here would only cost payload bytes.
		wrapper := &jsonschema.Schema{
			Type:       "object",
			Required:   []string{"query"},
			Properties: jsonschema.NewProperties(),
		}
		wrapper.Properties.Set("query", refQuery)
		return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{refQuery, wrapper}}
	case reflect.TypeFor[sortArg]():
		return &jsonschema.Schema{Type: "array", Items: refSortSpec}
	case reflect.TypeFor[jobStatusArg]():
		return stringEnum(jobStatuses)
	case reflect.TypeFor[lookupKindArg]():
		return stringEnum(lookupKinds)
	case reflect.TypeFor[closeapi.BulkDelete]():
		// Close's job object, passed through whole (17 keys, most
		// nullable, closeapi.Time among them, which reflection would
		// misread as a struct).
		return &jsonschema.Schema{Type: "object"}
	}
	return nil
}

// stringEnum is the schema of a string that must be one of values.
func stringEnum(values []string) *jsonschema.Schema {
	enum := make([]any, 0, len(values))
	for _, v := range values {
		enum = append(enum, v)
	}
	return &jsonschema.Schema{Type: "string", Enum: enum}
}

func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		DoNotReference:             true,
		ExpandedStruct:             true,
		Anonymous:                  true,
		AllowAdditionalProperties:  true,
		RequiredFromJSONSchemaTags: true,
		Mapper:                     schemaMapper,
	}
}

func reflectRoot[T any]() *jsonschema.Schema {
	s := reflector().Reflect(new(T))
	s.Version = ""
	s.ID = ""
	s.Definitions = nil
	return s
}

func mustMarshal(s *jsonschema.Schema) []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("tools: schema does not marshal: %v", err))
	}
	return b
}

// schemaCache memoises the generated schemas: they depend only on types.
var schemaCache sync.Map // reflect.Type + role → []byte

type schemaKey struct {
	t     reflect.Type
	input bool
}

// inputSchemaFor is the input schema of T. It does not repeat
// additionalProperties:false: the decoder is strict and its error names the
// valid keys, and the bytes are better spent on the grammar.
func inputSchemaFor[T any]() []byte {
	key := schemaKey{reflect.TypeFor[T](), true}
	if b, ok := schemaCache.Load(key); ok {
		return b.([]byte)
	}
	b := mustMarshal(reflectRoot[T]())
	schemaCache.Store(key, b)
	return b
}

// outputSchemaFor is the output schema of T: an object requiring T's fields
// tagged required. Property shapes are left out on purpose: the tools/list
// payload has a budget (TestToolsListSizeBudget) that the query grammar
// already takes most of, output schemas serve clients that check results
// rather than models that write calls, and each result's text says the
// same in words. Every success in the tests is validated against it.
func outputSchemaFor[T any]() []byte {
	key := schemaKey{reflect.TypeFor[T](), false}
	if b, ok := schemaCache.Load(key); ok {
		return b.([]byte)
	}
	s := reflectRoot[T]()
	b := mustMarshal(&jsonschema.Schema{Type: "object", Required: s.Required})
	schemaCache.Store(key, b)
	return b
}

// previewInputSchema is previewArgs' schema with the grammar's definitions
// copied into its $defs, so the s_query and sort references resolve inside
// the tool's own schema (clients do not fetch remote schemas). The other
// tools do not repeat the grammar.
var previewInputSchema = sync.OnceValue(func() []byte {
	s := reflectRoot[previewArgs]()
	defs := jsonschema.Definitions{}
	maps.Copy(defs, schema.GrammarDefs())
	s.Definitions = defs
	return mustMarshal(s)
})
