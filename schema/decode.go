package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on what Decode accepts. They bound the work and the stack a query
// can cost; real queries copied from Close's UI are far smaller.
const (
	// MaxDepth is how deeply query nodes may nest (the root is level 1).
	// Nested offset moments are held to the same bound.
	MaxDepth = 32
	// MaxNodes is how many query nodes one query may hold.
	MaxNodes = 2000
	// MaxInputBytes is the largest input Decode reads.
	MaxInputBytes = 256 << 10
)

// DecodeError says where in the input a query is wrong and what was
// expected there.
type DecodeError struct {
	// Pointer is the RFC 6901 JSON pointer of the offending value, relative
	// to the document given to Decode (so inside a wrapper it starts with
	// /query). "" means the document itself.
	Pointer string
	// Problem says what is wrong and what was expected.
	Problem string
}

// Error renders "<pointer>: <problem>", with "(root)" for the empty pointer
// so the message never starts with a bare colon.
func (e *DecodeError) Error() string {
	p := e.Pointer
	if p == "" {
		p = "(root)"
	}
	return p + ": " + e.Problem
}

// Decode reads a query as a bare node or as the Smart View / "Copy Filters"
// wrapper {"query": …, "results_limit": …, "sort": …}. A JSON object is a
// wrapper when it has a "query" key and no "type" key. The wrapper's
// results_limit and sort are carried out into the Request; any other
// wrapper key (limit, _limit, _fields, cursor, include_counts, …) is
// tolerated and reported as an unrecognised key, because bulkguard neither
// forwards nor honours it (a pasted "limit": 5 does not cap a delete).
//
// Errors are always *DecodeError. Decode never panics.
func Decode(data []byte) (*Request, error) {
	if err := checkInput(data); err != nil {
		return nil, err
	}
	d := &decoder{}
	o, err := d.object("", data, "a query node or a {\"query\": …} wrapper")
	if err != nil {
		return nil, err
	}
	_, hasType := o.m["type"]
	_, hasQuery := o.m["query"]
	if !hasType && hasQuery {
		return d.wrapper(o)
	}
	n, err := d.nodeFromObject(o, 1)
	if err != nil {
		return nil, err
	}
	return &Request{Query: n, Unrecognised: d.unrec}, nil
}

// DecodeNode reads a bare query node (a bulk action's s_query). Unknown
// types and keys are kept and listed in the returned slice.
func DecodeNode(data []byte) (Node, []Unrecognised, error) {
	if err := checkInput(data); err != nil {
		return nil, nil, err
	}
	d := &decoder{}
	o, err := d.object("", data, "a query node")
	if err != nil {
		return nil, nil, err
	}
	if _, hasType := o.m["type"]; !hasType {
		if _, hasQuery := o.m["query"]; hasQuery {
			return nil, nil, &DecodeError{Problem: `missing required property "type" (this looks like a {"query": …} wrapper; pass the query node itself)`}
		}
	}
	n, err := d.nodeFromObject(o, 1)
	if err != nil {
		return nil, nil, err
	}
	return n, d.unrec, nil
}

// DecodeSort reads a JSON array of sort specs; null reads as no sort.
// DecodeSort has no way to report constructs it does not understand, so
// unlike Decode it refuses them (an unknown field type or an unknown key)
// rather than keeping them.
func DecodeSort(data []byte) ([]Sort, error) {
	if err := checkInput(data); err != nil {
		return nil, err
	}
	d := &decoder{}
	s, err := d.sorts("", data)
	if err != nil {
		return nil, err
	}
	if len(d.unrec) > 0 {
		u := d.unrec[0]
		if u.What == "key" {
			return nil, &DecodeError{Pointer: u.Pointer, Problem: fmt.Sprintf("unknown key %q in a sort spec", u.Name)}
		}
		return nil, &DecodeError{Pointer: u.Pointer, Problem: fmt.Sprintf("unknown %s type %q in a sort spec (expected %s)", u.What, u.Name, quoteList(fieldTypes))}
	}
	return s, nil
}

var (
	textModes   = []string{string(FullWords), string(Phrase), string(BeginningOfWords), string(ExactValue)}
	whichValues = []string{string(Start), string(End)}
	directions  = []string{"past", "future"}
	sortDirs    = []string{"asc", "desc"}
	fieldTypes  = []string{"regular_field", "custom_field"}
	durationKey = []string{"years", "months", "weeks", "days", "hours", "minutes", "seconds"}
)

// checkInput applies the checks that need no parsing: size, UTF-8 and JSON
// syntax. Invalid UTF-8 is refused because Go would silently replace it,
// and what reaches Close must be what the person wrote.
func checkInput(data []byte) error {
	if len(data) > MaxInputBytes {
		return &DecodeError{Problem: fmt.Sprintf("input is %d bytes; the limit is %d bytes (256 KiB)", len(data), MaxInputBytes)}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return &DecodeError{Problem: "input is empty; expected a JSON object"}
	}
	if !utf8.Valid(data) {
		return &DecodeError{Problem: "input is not valid UTF-8"}
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &DecodeError{Problem: fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, se.Error())}
		}
		if err != nil {
			return &DecodeError{Problem: "not valid JSON: " + err.Error()}
		}
		return &DecodeError{Problem: "not valid JSON"}
	}
	return nil
}

type decoder struct {
	nodes int
	unrec []Unrecognised
}

func (d *decoder) report(ptr, what, name string) {
	d.unrec = append(d.unrec, Unrecognised{Pointer: ptr, What: what, Name: name})
}

// jsonKind names the JSON type of a syntactically valid value.
func jsonKind(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func isNull(raw []byte) bool { return jsonKind(raw) == "null" }

// escapeToken escapes one reference token of a JSON pointer (RFC 6901).
func escapeToken(k string) string {
	if !strings.ContainsAny(k, "~/") {
		return k
	}
	return strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1")
}

func child(ptr, key string) string { return ptr + "/" + escapeToken(key) }
func index(ptr string, i int) string {
	return ptr + "/" + strconv.Itoa(i)
}

// obj is one decoded JSON object: its members by key, in input order, and
// which of them the decoder has consumed.
type obj struct {
	ptr   string
	raw   []byte
	m     map[string]json.RawMessage
	order []string
	used  map[string]bool
}

// object parses raw as a JSON object, refusing duplicate keys: encoding/json
// would keep the last one silently, Close's parser might keep another, and a
// query must not mean two things.
func (d *decoder) object(ptr string, raw []byte, what string) (*obj, error) {
	if k := jsonKind(raw); k != "an object" {
		return nil, &DecodeError{Pointer: ptr, Problem: fmt.Sprintf("expected %s (a JSON object), got %s", what, k)}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil, &DecodeError{Pointer: ptr, Problem: "not a valid JSON object: " + err.Error()}
	}
	o := &obj{ptr: ptr, raw: raw, m: map[string]json.RawMessage{}, used: map[string]bool{}}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, &DecodeError{Pointer: ptr, Problem: "not a valid JSON object: " + err.Error()}
		}
		k, ok := t.(string)
		if !ok {
			return nil, &DecodeError{Pointer: ptr, Problem: "not a valid JSON object"}
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, &DecodeError{Pointer: child(ptr, k), Problem: "not a valid JSON value: " + err.Error()}
		}
		if _, dup := o.m[k]; dup {
			return nil, &DecodeError{Pointer: child(ptr, k), Problem: fmt.Sprintf("duplicate key %q", k)}
		}
		o.m[k] = v
		o.order = append(o.order, k)
	}
	return o, nil
}

func (o *obj) get(key string) (json.RawMessage, bool) {
	v, ok := o.m[key]
	if ok {
		o.used[key] = true
	}
	return v, ok
}

func (o *obj) missing(key string) error {
	return &DecodeError{Pointer: o.ptr, Problem: fmt.Sprintf("missing required property %q", key)}
}

func wrongType(ptr, want string, raw []byte) error {
	return &DecodeError{Pointer: ptr, Problem: fmt.Sprintf("expected %s, got %s", want, jsonKind(raw))}
}

// typ reads the required "type" discriminator.
func (o *obj) typ() (string, error) {
	raw, ok := o.get("type")
	if !ok {
		return "", o.missing("type")
	}
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", wrongType(child(o.ptr, "type"), "a string", raw)
	}
	if s == "" {
		return "", &DecodeError{Pointer: child(o.ptr, "type"), Problem: "must not be empty"}
	}
	return s, nil
}

// str reads a required, non-empty string.
func (o *obj) str(key string) (string, error) {
	raw, ok := o.get(key)
	if !ok {
		return "", o.missing(key)
	}
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", wrongType(child(o.ptr, key), "a string", raw)
	}
	if s == "" {
		return "", &DecodeError{Pointer: child(o.ptr, key), Problem: "must not be empty"}
	}
	return s, nil
}

// enum reads a required string that must be one of allowed.
func (o *obj) enum(key string, allowed []string) (string, error) {
	raw, ok := o.get(key)
	if !ok {
		return "", o.missing(key)
	}
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", wrongType(child(o.ptr, key), "one of "+quoteList(allowed), raw)
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", &DecodeError{Pointer: child(o.ptr, key), Problem: fmt.Sprintf("must be one of %s; got %q", quoteList(allowed), s)}
}

func quoteList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = strconv.Quote(v)
	}
	return strings.Join(q, ", ")
}

// boolean reads a boolean; present reports whether the key was there.
func (o *obj) boolean(key string, required bool) (v, present bool, err error) {
	raw, ok := o.get(key)
	if !ok {
		if required {
			return false, false, o.missing(key)
		}
		return false, false, nil
	}
	if jsonKind(raw) != "a boolean" || json.Unmarshal(raw, &v) != nil {
		return false, true, wrongType(child(o.ptr, key), "a boolean (true or false)", raw)
	}
	return v, true, nil
}

// maxExact is the largest magnitude up to which every integer is exactly a
// float64; a larger integer would reach Close changed.
const maxExact = 1 << 53

// number reads an optional number (nil when absent).
func (o *obj) number(key string) (*float64, error) {
	raw, ok := o.get(key)
	if !ok {
		return nil, nil
	}
	p := child(o.ptr, key)
	if jsonKind(raw) != "a number" {
		return nil, wrongType(p, "a number", raw)
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, &DecodeError{Pointer: p, Problem: "number is out of range"}
	}
	if math.Abs(f) > maxExact && f == math.Trunc(f) {
		return nil, &DecodeError{Pointer: p, Problem: "number is too large to pass on exactly (the limit is 2^53)"}
	}
	return &f, nil
}

// integer parses a non-negative JSON integer.
func integer(p string, raw []byte) (int, error) {
	if jsonKind(raw) != "a number" {
		return 0, wrongType(p, "a non-negative integer", raw)
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt32 {
		return 0, &DecodeError{Pointer: p, Problem: fmt.Sprintf("expected a non-negative integer up to %d, got %s", math.MaxInt32, bytes.TrimSpace(raw))}
	}
	return int(n), nil
}

// stringList reads a required, non-empty array of non-empty strings.
func (o *obj) stringList(key string) ([]string, error) {
	raw, ok := o.get(key)
	if !ok {
		return nil, o.missing(key)
	}
	p := child(o.ptr, key)
	if jsonKind(raw) != "an array" {
		return nil, wrongType(p, "an array of strings", raw)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, wrongType(p, "an array of strings", raw)
	}
	if len(items) == 0 {
		return nil, &DecodeError{Pointer: p, Problem: "must hold at least one value"}
	}
	out := make([]string, len(items))
	for i, it := range items {
		if jsonKind(it) != "a string" || json.Unmarshal(it, &out[i]) != nil {
			return nil, wrongType(index(p, i), "a string", it)
		}
		if out[i] == "" {
			return nil, &DecodeError{Pointer: index(p, i), Problem: "must not be empty"}
		}
	}
	return out, nil
}

// extras collects the keys nobody consumed: kept verbatim in Extra and
// reported, so they reach Close unchanged and later layers can warn.
func (d *decoder) extras(o *obj) map[string]json.RawMessage {
	var ex map[string]json.RawMessage
	for _, k := range o.order {
		if o.used[k] {
			continue
		}
		if ex == nil {
			ex = map[string]json.RawMessage{}
		}
		ex[k] = o.m[k]
		d.report(child(o.ptr, k), "key", k)
	}
	return ex
}

func (d *decoder) wrapper(o *obj) (*Request, error) {
	req := &Request{Wrapped: true}
	raw, _ := o.get("query")
	qo, err := d.object("/query", raw, "a query node")
	if err != nil {
		return nil, err
	}
	if req.Query, err = d.nodeFromObject(qo, 1); err != nil {
		return nil, err
	}
	if raw, ok := o.get("results_limit"); ok && !isNull(raw) {
		n, err := integer("/results_limit", raw)
		if err != nil {
			return nil, err
		}
		req.ResultsLimit = &n
	}
	if raw, ok := o.get("sort"); ok {
		if req.Sort, err = d.sorts("/sort", raw); err != nil {
			return nil, err
		}
	}
	// The wrapper's other keys belong to the search call (paging, fields,
	// counts), not to the query; there is no Extra to keep them in.
	for _, k := range o.order {
		if !o.used[k] {
			d.report(child("", k), "key", k)
		}
	}
	req.Unrecognised = d.unrec
	return req, nil
}

func (d *decoder) sorts(ptr string, raw []byte) ([]Sort, error) {
	if isNull(raw) {
		return nil, nil
	}
	if jsonKind(raw) != "an array" {
		return nil, wrongType(ptr, "an array of sort specs", raw)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, wrongType(ptr, "an array of sort specs", raw)
	}
	var out []Sort
	for i, it := range items {
		p := index(ptr, i)
		o, err := d.object(p, it, "a sort spec")
		if err != nil {
			return nil, err
		}
		dir, err := o.enum("direction", sortDirs)
		if err != nil {
			return nil, err
		}
		fraw, ok := o.get("field")
		if !ok {
			return nil, o.missing("field")
		}
		f, err := d.field(child(p, "field"), fraw)
		if err != nil {
			return nil, err
		}
		for _, k := range o.order {
			if !o.used[k] {
				return nil, &DecodeError{Pointer: child(p, k), Problem: fmt.Sprintf("unknown key %q in a sort spec (expected direction and field)", k)}
			}
		}
		out = append(out, Sort{Direction: dir, Field: f})
	}
	return out, nil
}

func (d *decoder) node(ptr string, raw []byte, depth int) (Node, error) {
	o, err := d.object(ptr, raw, "a query node")
	if err != nil {
		return nil, err
	}
	return d.nodeFromObject(o, depth)
}

func (d *decoder) nodeFromObject(o *obj, depth int) (Node, error) {
	if depth > MaxDepth {
		return nil, &DecodeError{Pointer: o.ptr, Problem: fmt.Sprintf("query nodes nest deeper than %d levels", MaxDepth)}
	}
	d.nodes++
	if d.nodes > MaxNodes {
		return nil, &DecodeError{Pointer: o.ptr, Problem: fmt.Sprintf("query has more than %d nodes", MaxNodes)}
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	var c Common
	known := true
	var n Node
	switch typ {
	case "and", "or":
		qs, err := d.children(o, depth)
		if err != nil {
			return nil, err
		}
		if typ == "and" {
			n = &And{Queries: qs}
		} else {
			n = &Or{Queries: qs}
		}
	case "object_type":
		v, err := o.str("object_type")
		if err != nil {
			return nil, err
		}
		n = &ObjectType{ObjectType: v}
	case "id":
		v, err := o.str("value")
		if err != nil {
			return nil, err
		}
		n = &ID{Value: v}
	case "text":
		mode, err := o.enum("mode", textModes)
		if err != nil {
			return nil, err
		}
		v, err := o.str("value")
		if err != nil {
			return nil, err
		}
		n = &Text{Mode: TextMode(mode), Value: v}
	case "field_condition":
		fraw, ok := o.get("field")
		if !ok {
			return nil, o.missing("field")
		}
		f, err := d.field(child(o.ptr, "field"), fraw)
		if err != nil {
			return nil, err
		}
		craw, ok := o.get("condition")
		if !ok {
			return nil, o.missing("condition")
		}
		cond, err := d.condition(child(o.ptr, "condition"), craw)
		if err != nil {
			return nil, err
		}
		n = &FieldCondition{Field: f, Condition: cond}
	case "has_related":
		this, err := o.str("this_object_type")
		if err != nil {
			return nil, err
		}
		rel, err := o.str("related_object_type")
		if err != nil {
			return nil, err
		}
		qraw, ok := o.get("related_query")
		if !ok {
			return nil, o.missing("related_query")
		}
		q, err := d.node(child(o.ptr, "related_query"), qraw, depth+1)
		if err != nil {
			return nil, err
		}
		n = &HasRelated{ThisObjectType: this, RelatedObjectType: rel, RelatedQuery: q}
	case "saved_search":
		v, err := o.str("saved_search_id")
		if err != nil {
			return nil, err
		}
		n = &SavedSearch{SavedSearchID: v}
	case "match_all":
		n = &MatchAll{}
	default:
		known = false
	}
	if !known {
		d.report(o.ptr, "node", typ)
		return &UnknownNode{Type: typ, Raw: cloneRaw(o)}, nil
	}
	if c.Negate, c.NegatePresent, err = o.boolean("negate", false); err != nil {
		return nil, err
	}
	c.Extra = d.extras(o)
	setCommon(n, c)
	return n, nil
}

// cloneRaw returns the object exactly as received (surrounding whitespace
// trimmed), in a buffer of its own so later changes to the input cannot
// reach it.
func cloneRaw(o *obj) json.RawMessage {
	return append(json.RawMessage(nil), bytes.TrimSpace(o.raw)...)
}

func setCommon(n Node, c Common) {
	switch v := n.(type) {
	case *And:
		v.Common = c
	case *Or:
		v.Common = c
	case *ObjectType:
		v.Common = c
	case *ID:
		v.Common = c
	case *Text:
		v.Common = c
	case *FieldCondition:
		v.Common = c
	case *HasRelated:
		v.Common = c
	case *SavedSearch:
		v.Common = c
	case *MatchAll:
		v.Common = c
	}
}

func (d *decoder) children(o *obj, depth int) ([]Node, error) {
	raw, ok := o.get("queries")
	if !ok {
		return nil, o.missing("queries")
	}
	p := child(o.ptr, "queries")
	if jsonKind(raw) != "an array" {
		return nil, wrongType(p, "an array of query nodes", raw)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, wrongType(p, "an array of query nodes", raw)
	}
	out := make([]Node, 0, len(items))
	for i, it := range items {
		n, err := d.node(index(p, i), it, depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (d *decoder) field(ptr string, raw []byte) (Field, error) {
	o, err := d.object(ptr, raw, "a field")
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "regular_field":
		ot, err := o.str("object_type")
		if err != nil {
			return nil, err
		}
		fn, err := o.str("field_name")
		if err != nil {
			return nil, err
		}
		return &RegularField{ObjectType: ot, FieldName: fn, Extra: d.extras(o)}, nil
	case "custom_field":
		id, err := o.str("custom_field_id")
		if err != nil {
			return nil, err
		}
		return &CustomField{CustomFieldID: id, Extra: d.extras(o)}, nil
	}
	d.report(ptr, "field", typ)
	return &UnknownField{Type: typ, Raw: cloneRaw(o)}, nil
}

func (d *decoder) condition(ptr string, raw []byte) (Condition, error) {
	o, err := d.object(ptr, raw, "a condition")
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "text":
		mode, err := o.enum("mode", textModes)
		if err != nil {
			return nil, err
		}
		v, err := o.str("value")
		if err != nil {
			return nil, err
		}
		return &TextCondition{Mode: TextMode(mode), Value: v, Extra: d.extras(o)}, nil
	case "term":
		vs, err := o.stringList("values")
		if err != nil {
			return nil, err
		}
		return &Term{Values: vs, Extra: d.extras(o)}, nil
	case "boolean":
		v, _, err := o.boolean("value", true)
		if err != nil {
			return nil, err
		}
		return &Boolean{Value: v, Extra: d.extras(o)}, nil
	case "number_range":
		var nr NumberRange
		for _, b := range []struct {
			key string
			dst **float64
		}{{"gt", &nr.GT}, {"gte", &nr.GTE}, {"lt", &nr.LT}, {"lte", &nr.LTE}} {
			if *b.dst, err = o.number(b.key); err != nil {
				return nil, err
			}
		}
		if nr.GT == nil && nr.GTE == nil && nr.LT == nil && nr.LTE == nil {
			return nil, &DecodeError{Pointer: ptr, Problem: `number_range needs at least one bound: "gt", "gte", "lt" or "lte"`}
		}
		nr.Extra = d.extras(o)
		return &nr, nil
	case "reference":
		rt, err := o.str("reference_type")
		if err != nil {
			return nil, err
		}
		ids, err := o.stringList("object_ids")
		if err != nil {
			return nil, err
		}
		return &Reference{ReferenceType: rt, ObjectIDs: ids, Extra: d.extras(o)}, nil
	case "current_user":
		return &CurrentUser{Extra: d.extras(o)}, nil
	case "exists":
		return &Exists{Extra: d.extras(o)}, nil
	case "moment_range":
		// Both ends are required keys: Close's UI always writes both, with
		// null for an open end, and requiring them keeps the round trip
		// exact. A range open at both ends would not filter at all.
		var mr MomentRange
		for _, b := range []struct {
			key string
			dst *Moment
		}{{"on_or_after", &mr.OnOrAfter}, {"before", &mr.Before}} {
			raw, ok := o.get(b.key)
			if !ok {
				return nil, &DecodeError{Pointer: ptr, Problem: fmt.Sprintf("missing required property %q (use null for an open end)", b.key)}
			}
			if isNull(raw) {
				continue
			}
			if *b.dst, err = d.moment(child(ptr, b.key), raw, 1); err != nil {
				return nil, err
			}
		}
		if mr.OnOrAfter == nil && mr.Before == nil {
			return nil, &DecodeError{Pointer: ptr, Problem: `moment_range needs at least one of "on_or_after" and "before" to be a moment`}
		}
		mr.Extra = d.extras(o)
		return &mr, nil
	}
	d.report(ptr, "condition", typ)
	return &UnknownCondition{Type: typ, Raw: cloneRaw(o)}, nil
}

func (d *decoder) moment(ptr string, raw []byte, depth int) (Moment, error) {
	if depth > MaxDepth {
		return nil, &DecodeError{Pointer: ptr, Problem: fmt.Sprintf("moments nest deeper than %d levels", MaxDepth)}
	}
	o, err := d.object(ptr, raw, "a moment")
	if err != nil {
		return nil, err
	}
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	switch typ {
	case "now":
		return &Now{Extra: d.extras(o)}, nil
	case "fixed_utc":
		v, err := o.str("value")
		if err != nil {
			return nil, err
		}
		if _, perr := time.Parse(time.RFC3339Nano, v); perr != nil {
			return nil, &DecodeError{Pointer: child(ptr, "value"), Problem: fmt.Sprintf("expected an ISO-8601 date-time with an offset, e.g. 2024-01-02T03:04:05+00:00; got %q", v)}
		}
		return &FixedUTC{Value: v, Extra: d.extras(o)}, nil
	case "fixed_local_date":
		v, err := o.str("value")
		if err != nil {
			return nil, err
		}
		if _, perr := time.Parse(time.DateOnly, v); perr != nil {
			return nil, &DecodeError{Pointer: child(ptr, "value"), Problem: fmt.Sprintf("expected a date YYYY-MM-DD; got %q", v)}
		}
		w, err := o.enum("which", whichValues)
		if err != nil {
			return nil, err
		}
		return &FixedLocalDate{Value: v, Which: Which(w), Extra: d.extras(o)}, nil
	case "offset":
		dir, err := o.enum("direction", directions)
		if err != nil {
			return nil, err
		}
		mraw, ok := o.get("moment")
		if !ok {
			return nil, o.missing("moment")
		}
		base, err := d.moment(child(ptr, "moment"), mraw, depth+1)
		if err != nil {
			return nil, err
		}
		draw, ok := o.get("offset")
		if !ok {
			return nil, o.missing("offset")
		}
		dur, err := d.duration(child(ptr, "offset"), draw)
		if err != nil {
			return nil, err
		}
		w, err := o.enum("which_day_end", whichValues)
		if err != nil {
			return nil, err
		}
		return &Offset{Direction: dir, Moment: base, Offset: dur, WhichDayEnd: Which(w), Extra: d.extras(o)}, nil
	case "start_end_of_predefined_relative_period":
		r, err := o.str("range")
		if err != nil {
			return nil, err
		}
		w, err := o.enum("which", whichValues)
		if err != nil {
			return nil, err
		}
		return &PredefinedPeriod{Range: r, Which: Which(w), Extra: d.extras(o)}, nil
	}
	d.report(ptr, "moment", typ)
	return &UnknownMoment{Type: typ, Raw: cloneRaw(o)}, nil
}

// duration reads an offset's seven integer keys. All seven are required
// because Close's UI always sends them and a client note suggests Close
// validates the object as a whole [OBS]; Duration has no Extra, so an
// unknown key is an error rather than something to keep.
func (d *decoder) duration(ptr string, raw []byte) (Duration, error) {
	var du Duration
	o, err := d.object(ptr, raw, "an offset")
	if err != nil {
		return du, err
	}
	dst := []*int{&du.Years, &du.Months, &du.Weeks, &du.Days, &du.Hours, &du.Minutes, &du.Seconds}
	for i, k := range durationKey {
		v, ok := o.get(k)
		if !ok {
			return du, &DecodeError{Pointer: ptr, Problem: fmt.Sprintf("missing required property %q (an offset needs all of %s)", k, strings.Join(durationKey, ", "))}
		}
		if *dst[i], err = integer(child(ptr, k), v); err != nil {
			return du, err
		}
	}
	for _, k := range o.order {
		if !o.used[k] {
			return du, &DecodeError{Pointer: child(ptr, k), Problem: fmt.Sprintf("unknown key %q in an offset (expected %s)", k, strings.Join(durationKey, ", "))}
		}
	}
	return du, nil
}
