package schema

import (
	"encoding/json"

	"github.com/invopop/jsonschema"
)

// The JSON Schema of the grammar is reflected by invopop/jsonschema from
// the small structs below, which exist only for reflection: each describes
// one variant of a union (a node, condition, field or moment type) with
// Close's JSON keys, json tags deciding what is required (no omitempty)
// and jsonschema tags carrying enums and descriptions. The union types
// (queryUnion, …) implement JSONSchema() to assemble a oneOf of their
// variants, each pinned by a "type" const, and the *Ref types stand for a
// use of a definition ({"$ref": "#/$defs/query"}), so the recursive grammar
// is defined once under $defs. To save bytes, pieces used several times
// (negate, text_mode, count, moment_or_null) are definitions too, and
// "type": "object" and "required": ["type"] sit once on each union rather
// than on every variant.
//
// The schema describes only the known constructs; Decode also keeps unknown
// ones. It stays compact (≤ 8 KiB minified, tested) because every tool that
// takes a query embeds it.

// defsPrefix is where GrammarDefs' entries sit in a document.
const defsPrefix = "#/$defs/"

type queryRef struct{}
type conditionRef struct{}
type fieldRef struct{}
type momentRef struct{}
type momentOrNull struct{}
type negateRef struct{}
type textModeRef struct{}

func ref(name string) *jsonschema.Schema { return &jsonschema.Schema{Ref: defsPrefix + name} }

func (queryRef) JSONSchema() *jsonschema.Schema     { return ref("query") }
func (conditionRef) JSONSchema() *jsonschema.Schema { return ref("condition") }
func (fieldRef) JSONSchema() *jsonschema.Schema     { return ref("field") }
func (momentRef) JSONSchema() *jsonschema.Schema    { return ref("moment") }
func (negateRef) JSONSchema() *jsonschema.Schema    { return ref("negate") }
func (textModeRef) JSONSchema() *jsonschema.Schema  { return ref("text_mode") }
func (momentOrNull) JSONSchema() *jsonschema.Schema {
	return ref("moment_or_null")
}

// JSONSchemaExtend gives the "text_mode" definition its values, from the
// TextMode constants, and their meaning.
func (TextMode) JSONSchemaExtend(s *jsonschema.Schema) {
	for _, m := range textModes {
		s.Enum = append(s.Enum, m)
	}
	s.Description = "full_words: all words, any order; phrase: adjacent, in order; beginning_of_words: word prefixes; exact_value: whole value."
}

// Query node variants.
type andVariant struct {
	Queries []queryRef `json:"queries" jsonschema_description:"Member queries."`
	Negate  negateRef  `json:"negate,omitempty"`
}
type objectTypeVariant struct {
	ObjectType string    `json:"object_type" jsonschema_description:"lead or contact."`
	Negate     negateRef `json:"negate,omitempty"`
}
type idVariant struct {
	Value  string    `json:"value" jsonschema_description:"Object id, e.g. lead_…"`
	Negate negateRef `json:"negate,omitempty"`
}
type textVariant struct {
	Mode   textModeRef `json:"mode"`
	Value  string      `json:"value" jsonschema_description:"Text to find."`
	Negate negateRef   `json:"negate,omitempty"`
}
type fieldConditionVariant struct {
	Field     fieldRef     `json:"field"`
	Condition conditionRef `json:"condition"`
	Negate    negateRef    `json:"negate,omitempty"`
}
type hasRelatedVariant struct {
	ThisObjectType    string    `json:"this_object_type" jsonschema_description:"Type being filtered, e.g. lead."`
	RelatedObjectType string    `json:"related_object_type" jsonschema_description:"e.g. contact, contact_email, opportunity, address."`
	RelatedQuery      queryRef  `json:"related_query"`
	Negate            negateRef `json:"negate,omitempty"`
}
type savedSearchVariant struct {
	SavedSearchID string    `json:"saved_search_id" jsonschema_description:"Smart View id (save_…) from lookup."`
	Negate        negateRef `json:"negate,omitempty"`
}
type matchAllVariant struct {
	Negate negateRef `json:"negate,omitempty"`
}

// Condition variants.
type textConditionVariant struct {
	Mode  textModeRef `json:"mode"`
	Value string      `json:"value" jsonschema_description:"Text to match."`
}
type termVariant struct {
	Values []string `json:"values" jsonschema_description:"Choice values as shown in Close."`
}
type booleanVariant struct {
	Value bool `json:"value" jsonschema_description:"Value."`
}
type numberRangeVariant struct {
	GT  *float64 `json:"gt,omitempty" jsonschema_description:"Greater than."`
	GTE *float64 `json:"gte,omitempty" jsonschema_description:"At least."`
	LT  *float64 `json:"lt,omitempty" jsonschema_description:"Less than."`
	LTE *float64 `json:"lte,omitempty" jsonschema_description:"At most."`
}
type referenceVariant struct {
	ReferenceType string   `json:"reference_type" jsonschema_description:"status.lead for status_id; user for user fields."`
	ObjectIDs     []string `json:"object_ids" jsonschema_description:"stat_/user_ ids from lookup."`
}
type emptyVariant struct{}
type momentRangeVariant struct {
	OnOrAfter momentOrNull `json:"on_or_after" jsonschema_description:"Inclusive start, or null."`
	Before    momentOrNull `json:"before" jsonschema_description:"Exclusive end, or null."`
}

// Field variants.
type regularFieldVariant struct {
	ObjectType string `json:"object_type" jsonschema_description:"Type filtered at this level."`
	FieldName  string `json:"field_name" jsonschema_description:"e.g. name, date_created, date_updated, status_id, created_by."`
}
type customFieldVariant struct {
	CustomFieldID string `json:"custom_field_id" jsonschema_description:"cf_… id from lookup."`
}

// Moment variants.
type fixedUTCVariant struct {
	Value string `json:"value" jsonschema:"format=date-time" jsonschema_description:"e.g. 2024-01-02T03:04:05+00:00"`
}
type fixedLocalDateVariant struct {
	Value string `json:"value" jsonschema:"format=date" jsonschema_description:"YYYY-MM-DD"`
	Which string `json:"which" jsonschema:"enum=start,enum=end" jsonschema_description:"start or end."`
}
type countRef struct{}

func (countRef) JSONSchema() *jsonschema.Schema { return ref("count") }

type offsetAmount struct {
	Years   countRef `json:"years"`
	Months  countRef `json:"months"`
	Weeks   countRef `json:"weeks"`
	Days    countRef `json:"days"`
	Hours   countRef `json:"hours"`
	Minutes countRef `json:"minutes"`
	Seconds countRef `json:"seconds"`
}
type offsetVariant struct {
	Direction   string       `json:"direction" jsonschema:"enum=past,enum=future" jsonschema_description:"past or future."`
	Moment      momentRef    `json:"moment"`
	Offset      offsetAmount `json:"offset" jsonschema_description:"All seven keys, zeros too."`
	WhichDayEnd string       `json:"which_day_end" jsonschema:"enum=start,enum=end" jsonschema_description:"Snap to start or end of day."`
}
type periodVariant struct {
	Range string `json:"range" jsonschema_description:"Named period, e.g. today."`
	Which string `json:"which" jsonschema:"enum=start,enum=end" jsonschema_description:"start or end."`
}

// sortSpec is one element of a sort array.
type sortSpec struct {
	Direction string   `json:"direction" jsonschema:"enum=asc,enum=desc" jsonschema_description:"asc or desc."`
	Field     fieldRef `json:"field" jsonschema_description:"A number, date or text field of the object itself."`
}

// variant names one member of a union: its "type" const, what it means
// (written on the type property, so the discriminator explains itself),
// and the struct reflected for its other properties.
type variant struct {
	typ, desc string
	shape     any
	extend    func(*jsonschema.Schema)
}

func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		DoNotReference: true,
		ExpandedStruct: true,
		Anonymous:      true,
		// Close's UI adds keys such as _comment; Decode keeps and reports
		// them, so the schema must not refuse them either.
		AllowAdditionalProperties: true,
	}
}

// reflectBare reflects v without the document-level "$schema".
func reflectBare(v any) *jsonschema.Schema {
	s := reflector().Reflect(v)
	s.Version = ""
	return s
}

func union(desc string, vs ...variant) *jsonschema.Schema {
	// "type": "object" sits on the union once rather than on each variant;
	// the variants are objects through it.
	// Likewise "required": ["type"].
	u := &jsonschema.Schema{Type: "object", Required: []string{"type"}, Description: desc}
	for _, v := range vs {
		s := reflectBare(v.shape)
		s.Type = ""
		for p := s.Properties.Oldest(); p != nil; p = p.Next() {
			if len(p.Value.Enum) > 0 {
				p.Value.Type = "" // the enum already says string
			}
		}
		props := jsonschema.NewProperties()
		props.Set("type", &jsonschema.Schema{Const: v.typ, Description: v.desc})
		for p := s.Properties.Oldest(); p != nil; p = p.Next() {
			props.Set(p.Key, p.Value)
		}
		s.Properties = props
		if v.extend != nil {
			v.extend(s)
		}
		u.OneOf = append(u.OneOf, s)
	}
	return u
}

type queryUnion struct{}
type conditionUnion struct{}
type fieldUnion struct{}
type momentUnion struct{}

const queryDesc = `A Close structured query. For a delete: a top-level and whose FIRST member is an object_type (lead or contact), e.g. {"type":"and","queries":[{"type":"object_type","object_type":"lead"},{"type":"field_condition","field":{"type":"regular_field","object_type":"lead","field_name":"name"},"condition":{"type":"text","mode":"full_words","value":"ACME Inc."}}]}`

func (queryUnion) JSONSchema() *jsonschema.Schema {
	return union(queryDesc,
		variant{typ: "and", desc: "All of queries match.", shape: andVariant{}},
		variant{typ: "or", desc: "Any of queries matches.", shape: andVariant{}},
		variant{typ: "object_type", desc: "Restricts the object type.", shape: objectTypeVariant{}},
		variant{typ: "id", desc: "One object by id.", shape: idVariant{}},
		variant{typ: "text", desc: "Full-text search over the object.", shape: textVariant{}},
		variant{typ: "field_condition", desc: "field meets condition.", shape: fieldConditionVariant{}},
		variant{typ: "has_related", desc: "Has a related object matching related_query.", shape: hasRelatedVariant{}},
		variant{typ: "saved_search", desc: "What a Smart View matches.", shape: savedSearchVariant{}},
		variant{typ: "match_all", desc: "Everything.", shape: matchAllVariant{}},
	)
}

const conditionDesc = "Pick by field type: text→text; choice/enum→term; boolean→boolean; number→number_range; date→moment_range; id fields (status_id, created_by, user_id)→reference or current_user; any→exists."

func (conditionUnion) JSONSchema() *jsonschema.Schema {
	return union(conditionDesc,
		variant{typ: "text", desc: "Text field match.", shape: textConditionVariant{}},
		variant{typ: "term", desc: "Choice field is any of values.", shape: termVariant{}},
		variant{typ: "boolean", desc: "Boolean field equals value.", shape: booleanVariant{}},
		variant{typ: "number_range", desc: "Number field in bounds; give at least one.", shape: numberRangeVariant{},
			extend: func(s *jsonschema.Schema) { two := uint64(2); s.MinProperties = &two }},
		variant{typ: "reference", desc: "Id field holds any of object_ids.", shape: referenceVariant{}},
		variant{typ: "current_user", desc: "User field is the calling user.", shape: emptyVariant{}},
		variant{typ: "exists", desc: "Field has a value; negate the field_condition for empty.", shape: emptyVariant{}},
		variant{typ: "moment_range", desc: "Date field in [on_or_after, before); not both null.", shape: momentRangeVariant{}},
	)
}

func (fieldUnion) JSONSchema() *jsonschema.Schema {
	return union("The field a condition tests.",
		variant{typ: "regular_field", desc: "A built-in field.", shape: regularFieldVariant{}},
		variant{typ: "custom_field", desc: "A custom field by id.", shape: customFieldVariant{}},
	)
}

func (momentUnion) JSONSchema() *jsonschema.Schema {
	return union("A point in time.",
		variant{typ: "now", desc: "When the query runs.", shape: emptyVariant{}},
		variant{typ: "fixed_utc", desc: "An instant.", shape: fixedUTCVariant{}},
		variant{typ: "fixed_local_date", desc: "A calendar day.", shape: fixedLocalDateVariant{}},
		variant{typ: "offset", desc: "moment (usually now) moved by offset, e.g. 30 days ago, snapped to its day.", shape: offsetVariant{}},
		variant{typ: "start_end_of_predefined_relative_period", desc: "Start or end of a named period.", shape: periodVariant{}},
	)
}

// GrammarDefs returns the grammar's schema definitions, keyed for a
// document's "$defs": the entry points "query" (a query node, recursive)
// and "sort_spec", and what they use: "condition", "field", "moment",
// "moment_or_null", "text_mode", "negate" and "count". A tool schema refers to
// {"$ref": "#/$defs/query"} and {"$ref": "#/$defs/sort_spec"} and copies
// every entry into its own $defs (the entries refer to each other). Each
// call builds new values, so callers may change them.
func GrammarDefs() map[string]*jsonschema.Schema {
	sort := reflectBare(sortSpec{})
	sort.Description = "Order; decides which matches fall inside results_limit."
	count := reflectBare(0)
	count.Description = "Whole units, 0 or more."
	count.Minimum = json.Number("0")
	negate := reflectBare(false)
	negate.Description = "true inverts the match."
	return map[string]*jsonschema.Schema{
		"query":     reflectBare(queryUnion{}),
		"condition": reflectBare(conditionUnion{}),
		"field":     reflectBare(fieldUnion{}),
		"moment":    reflectBare(momentUnion{}),
		"sort_spec": sort,
		"text_mode": reflectBare(TextMode("")),
		"negate":    negate,
		"count":     count,
		"moment_or_null": {
			AnyOf:       []*jsonschema.Schema{ref("moment"), {Type: "null"}},
			Description: "A moment, or null for an open end.",
		},
	}
}

// queryDocument is the input shape QuerySchema describes.
type queryDocument struct {
	SQuery queryRef   `json:"s_query"`
	Sort   []sortSpec `json:"sort,omitempty" jsonschema_description:"Optional order."`
}

// QuerySchema returns a complete JSON Schema 2020-12 document for an input
// {"s_query": …, "sort": […]}: root type object with no top-level $ref,
// the grammar under $defs. It is the golden reference of the grammar
// (schema/testdata/query.schema.json) and an example of how a tool embeds
// GrammarDefs.
func QuerySchema() json.RawMessage {
	r := reflector()
	root := r.Reflect(queryDocument{})
	if sortProp, ok := root.Properties.Get("sort"); ok {
		sortProp.Items = ref("sort_spec")
	}
	root.AdditionalProperties = jsonschema.FalseSchema
	root.Definitions = GrammarDefs()
	out, err := json.Marshal(root)
	if err != nil {
		// Only programming errors reach here: the schema is built from
		// constant Go types. The tests marshal it on every run.
		panic("schema: QuerySchema does not marshal: " + err.Error())
	}
	return out
}
