// Package schema holds Close's structured-query grammar (the `query` of
// /data/search/ and the `s_query` of bulk actions) as Go types: strict
// decoding with JSON-pointer errors, a canonical form and digest, a
// plain-English rendering for the person confirming a delete, and the JSON
// Schema a model uses to write queries.
//
// The grammar is not published as a schema by Close. The node, condition,
// field and moment types below follow docs/close-api.md §3; where a fact
// there is tagged inferred or observed (moment_range and its moments,
// match_all, saved_search, beginning_of_words and exact_value, which
// properties are required), the type's comment says so.
//
// Every node and condition keeps any keys bulkguard does not know in Extra,
// and a node or condition of an unknown type is kept verbatim as
// UnknownNode / UnknownCondition, so that nothing a person wrote is silently
// dropped on its way to Close.
package schema

import "encoding/json"

// Node is one query node: the whole query or any part of it. The concrete
// types are And, Or, ObjectType, ID, Text, FieldCondition, HasRelated,
// SavedSearch, MatchAll and UnknownNode.
type Node interface {
	// NodeType is the node's "type" discriminator, e.g. "and".
	NodeType() string
	// Negated reports the node's "negate" flag.
	Negated() bool
	isNode()
}

// Condition is the condition of a field_condition node. The concrete types
// are TextCondition, Term, Boolean, NumberRange, Reference, CurrentUser,
// Exists, MomentRange and UnknownCondition.
type Condition interface {
	ConditionType() string
	isCondition()
}

// Field names what a field_condition or a sort looks at: RegularField,
// CustomField or UnknownField.
type Field interface {
	FieldType() string
	isField()
}

// Moment is one end of a moment_range: Now, FixedUTC, FixedLocalDate,
// Offset, PredefinedPeriod or UnknownMoment. A nil Moment is JSON null (an
// open end).
type Moment interface {
	MomentType() string
	isMoment()
}

// Common carries what every node may have besides its own properties.
type Common struct {
	// Negate inverts the node's match. Absent and false mean the same.
	Negate bool
	// NegatePresent records that the input spelled out "negate" (Close's UI
	// writes "negate": false on almost every node). Encode then writes
	// "negate": false back, so a decoded query re-encodes to the JSON it came
	// from; Canonical ignores it. Builders can leave it false.
	NegatePresent bool
	// Extra holds keys of a known node that bulkguard does not know (Close's
	// UI emits e.g. "_comment" or "limit": null), verbatim, so they reach
	// Close unchanged and can be reported.
	Extra map[string]json.RawMessage
}

func (c Common) Negated() bool { return c.Negate }

// And matches objects that match every one of Queries. An empty And
// matches everything.
type And struct {
	Common
	Queries []Node
}

// Or matches objects that match at least one of Queries.
type Or struct {
	Common
	Queries []Node
}

// ObjectType restricts the query to one kind of object ("lead",
// "contact"; "opportunity" and "custom_object" have been seen in third-party
// payloads). Close expects it first inside a top-level And.
type ObjectType struct {
	Common
	ObjectType string
}

// ID matches the one object with this id (lead_…, cont_…).
type ID struct {
	Common
	Value string
}

// Text is a full-text match over the object's text-like fields.
type Text struct {
	Common
	Mode  TextMode
	Value string
}

// FieldCondition matches objects whose Field satisfies Condition.
type FieldCondition struct {
	Common
	Field     Field
	Condition Condition
}

// HasRelated matches objects of ThisObjectType that have at least one
// related object of RelatedObjectType matching RelatedQuery.
type HasRelated struct {
	Common
	ThisObjectType    string
	RelatedObjectType string
	RelatedQuery      Node
}

// SavedSearch matches what the Smart View SavedSearchID matches. Observed
// in data/search payloads; documented only for the Reporting API (inferred
// to work in bulk actions, docs/close-api.md §5.3).
type SavedSearch struct {
	Common
	SavedSearchID string
}

// MatchAll matches every object. Seen in Close's own "All Leads" Smart View.
type MatchAll struct {
	Common
}

// UnknownNode is a node whose type bulkguard does not know. It is kept
// verbatim (Raw is the node as received) and reported as unrecognised.
type UnknownNode struct {
	Type string
	Raw  json.RawMessage
}

func (And) NodeType() string            { return "and" }
func (Or) NodeType() string             { return "or" }
func (ObjectType) NodeType() string     { return "object_type" }
func (ID) NodeType() string             { return "id" }
func (Text) NodeType() string           { return "text" }
func (FieldCondition) NodeType() string { return "field_condition" }
func (HasRelated) NodeType() string     { return "has_related" }
func (SavedSearch) NodeType() string    { return "saved_search" }
func (MatchAll) NodeType() string       { return "match_all" }
func (u UnknownNode) NodeType() string  { return u.Type }

// Negated of an unknown node reads a boolean "negate" from Raw, if any.
func (u UnknownNode) Negated() bool {
	var probe struct {
		Negate bool `json:"negate"`
	}
	_ = json.Unmarshal(u.Raw, &probe)
	return probe.Negate
}

func (*And) isNode()            {}
func (*Or) isNode()             {}
func (*ObjectType) isNode()     {}
func (*ID) isNode()             {}
func (*Text) isNode()           {}
func (*FieldCondition) isNode() {}
func (*HasRelated) isNode()     {}
func (*SavedSearch) isNode()    {}
func (*MatchAll) isNode()       {}
func (*UnknownNode) isNode()    {}

// TextMode is how a text value is matched.
type TextMode string

const (
	// FullWords: every word present, in any order, case-insensitive.
	FullWords TextMode = "full_words"
	// Phrase: the words adjacent and in the given order.
	Phrase TextMode = "phrase"
	// BeginningOfWords: every given word is the start of some word
	// (observed in the Close UI, not in the public docs).
	BeginningOfWords TextMode = "beginning_of_words"
	// ExactValue: the whole value equals, case-insensitive (observed).
	ExactValue TextMode = "exact_value"
)

// TextCondition matches a text field by Mode.
type TextCondition struct {
	Mode  TextMode
	Value string
	Extra map[string]json.RawMessage
}

// Term matches an enum or choice field holding any of Values.
type Term struct {
	Values []string
	Extra  map[string]json.RawMessage
}

// Boolean matches a boolean field equal to Value.
type Boolean struct {
	Value bool
	Extra map[string]json.RawMessage
}

// NumberRange matches a number between the bounds that are set; at least
// one must be (inferred: Close documents gt, and gte/lte are observed).
type NumberRange struct {
	GT, GTE, LT, LTE *float64
	Extra            map[string]json.RawMessage
}

// Reference matches an id field (status_id, created_by, …) holding any of
// ObjectIDs. ReferenceType names the kind of id: "user", "status.lead",
// "user_or_group", … The magic id "CURRENT_USER" is the calling user.
type Reference struct {
	ReferenceType string
	ObjectIDs     []string
	Extra         map[string]json.RawMessage
}

// CurrentUser matches a user field equal to the authenticated user.
type CurrentUser struct {
	Extra map[string]json.RawMessage
}

// Exists matches a field that is set and non-empty.
type Exists struct {
	Extra map[string]json.RawMessage
}

// MomentRange matches a date field in [OnOrAfter, Before). A nil end is
// open. Observed in Close UI payloads only (not in the public docs).
type MomentRange struct {
	OnOrAfter Moment
	Before    Moment
	Extra     map[string]json.RawMessage
}

// UnknownCondition is a condition whose type bulkguard does not know, kept
// verbatim.
type UnknownCondition struct {
	Type string
	Raw  json.RawMessage
}

func (TextCondition) ConditionType() string      { return "text" }
func (Term) ConditionType() string               { return "term" }
func (Boolean) ConditionType() string            { return "boolean" }
func (NumberRange) ConditionType() string        { return "number_range" }
func (Reference) ConditionType() string          { return "reference" }
func (CurrentUser) ConditionType() string        { return "current_user" }
func (Exists) ConditionType() string             { return "exists" }
func (MomentRange) ConditionType() string        { return "moment_range" }
func (u UnknownCondition) ConditionType() string { return u.Type }

func (*TextCondition) isCondition()    {}
func (*Term) isCondition()             {}
func (*Boolean) isCondition()          {}
func (*NumberRange) isCondition()      {}
func (*Reference) isCondition()        {}
func (*CurrentUser) isCondition()      {}
func (*Exists) isCondition()           {}
func (*MomentRange) isCondition()      {}
func (*UnknownCondition) isCondition() {}

// RegularField is a built-in field of ObjectType, e.g. lead.date_created.
type RegularField struct {
	ObjectType string
	FieldName  string
	Extra      map[string]json.RawMessage
}

// CustomField is a custom field addressed by its id (cf_…).
type CustomField struct {
	CustomFieldID string
	Extra         map[string]json.RawMessage
}

// UnknownField is a field whose type bulkguard does not know, kept verbatim.
type UnknownField struct {
	Type string
	Raw  json.RawMessage
}

func (RegularField) FieldType() string   { return "regular_field" }
func (CustomField) FieldType() string    { return "custom_field" }
func (u UnknownField) FieldType() string { return u.Type }

func (*RegularField) isField() {}
func (*CustomField) isField()  {}
func (*UnknownField) isField() {}

// Which picks the start or the end of a day or period.
type Which string

const (
	Start Which = "start"
	End   Which = "end"
)

// Now is the moment the query runs.
type Now struct {
	Extra map[string]json.RawMessage
}

// FixedUTC is an absolute instant; Value is ISO-8601 with an offset.
type FixedUTC struct {
	Value string
	Extra map[string]json.RawMessage
}

// FixedLocalDate is the start or end of a calendar day (YYYY-MM-DD) in the
// request's timezone (x-tz-offset).
type FixedLocalDate struct {
	Value string
	Which Which
	Extra map[string]json.RawMessage
}

// Offset is Moment moved by Offset into the past or future, then snapped
// to the start or end of its day by WhichDayEnd. Observed in Close UI
// payloads; "future" as a direction is inferred.
type Offset struct {
	Direction   string // "past" or "future"
	Moment      Moment
	Offset      Duration
	WhichDayEnd Which
	Extra       map[string]json.RawMessage
}

// Duration is the offset of an Offset moment. Close's UI always sends all
// seven keys.
type Duration struct {
	Years, Months, Weeks, Days, Hours, Minutes, Seconds int
}

// PredefinedPeriod is the start or end of a named relative period such as
// "today" (the only value observed; others are inferred).
type PredefinedPeriod struct {
	Range string
	Which Which
	Extra map[string]json.RawMessage
}

// UnknownMoment is a moment whose type bulkguard does not know, verbatim.
type UnknownMoment struct {
	Type string
	Raw  json.RawMessage
}

func (Now) MomentType() string              { return "now" }
func (FixedUTC) MomentType() string         { return "fixed_utc" }
func (FixedLocalDate) MomentType() string   { return "fixed_local_date" }
func (Offset) MomentType() string           { return "offset" }
func (PredefinedPeriod) MomentType() string { return "start_end_of_predefined_relative_period" }
func (u UnknownMoment) MomentType() string  { return u.Type }

func (*Now) isMoment()              {}
func (*FixedUTC) isMoment()         {}
func (*FixedLocalDate) isMoment()   {}
func (*Offset) isMoment()           {}
func (*PredefinedPeriod) isMoment() {}
func (*UnknownMoment) isMoment()    {}

// Sort orders the matches, and so decides which ones fall inside a
// results_limit. Only fields that belong directly to the object sort.
type Sort struct {
	Direction string // "asc" or "desc"
	Field     Field
}

// Request is a decoded query together with what travels beside it: the
// results_limit and sort of a Smart View / "Copy Filters" wrapper.
type Request struct {
	Query Node
	// ResultsLimit is nil when absent or null.
	ResultsLimit *int
	Sort         []Sort
	// Wrapped is true when the input was a {"query": …} wrapper.
	Wrapped bool
	// Unrecognised lists every construct kept verbatim.
	Unrecognised []Unrecognised
}

// Unrecognised is one construct bulkguard kept without understanding it:
// an unknown node/condition/field/moment type, or an unknown key on a
// known one.
type Unrecognised struct {
	// Pointer is the JSON pointer of the construct in the input.
	Pointer string
	// What is "node", "condition", "field", "moment" or "key".
	What string
	// Name is the unknown type, or the unknown key.
	Name string
}
