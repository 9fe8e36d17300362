package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
)

// Encode renders n as Close's JSON, compact. Keys a decoded node carried in
// Extra and the raw JSON of Unknown* constructs are written back verbatim,
// and "negate": false is written where the input had it, so Encode of a
// decoded query is JSON-equivalent to the input node.
func Encode(n Node) (json.RawMessage, error) {
	e := &encoder{}
	if err := e.node(n); err != nil {
		return nil, err
	}
	return json.RawMessage(e.b.Bytes()), nil
}

// EncodeSort renders sort specs as a JSON array; nil gives [].
func EncodeSort(s []Sort) (json.RawMessage, error) {
	e := &encoder{}
	e.b.WriteByte('[')
	for i := range s {
		if i > 0 {
			e.b.WriteByte(',')
		}
		if err := e.sort(&s[i]); err != nil {
			return nil, err
		}
	}
	e.b.WriteByte(']')
	return json.RawMessage(e.b.Bytes()), nil
}

// encoder writes compact JSON into b. canonical drops "negate": false; the
// caller of canonical mode then sorts every object's keys (canonical.go).
type encoder struct {
	b         bytes.Buffer
	canonical bool
}

// writeString writes s as a JSON string without HTML escaping, so values
// like "AT&T" reach Close as written.
func writeString(b *bytes.Buffer, s string) {
	var tmp bytes.Buffer
	enc := json.NewEncoder(&tmp)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a Go string always encodes
	b.Write(bytes.TrimRight(tmp.Bytes(), "\n"))
}

// obj starts an object; the returned func writes each key (with the comma
// before every key but the first).
func (e *encoder) obj() func(key string) {
	e.b.WriteByte('{')
	n := 0
	return func(key string) {
		if n > 0 {
			e.b.WriteByte(',')
		}
		n++
		writeString(&e.b, key)
		e.b.WriteByte(':')
	}
}

func (e *encoder) str(s string) { writeString(&e.b, s) }

func (e *encoder) raw(what string, r json.RawMessage) error {
	if len(bytes.TrimSpace(r)) == 0 {
		return fmt.Errorf("schema: %s has no raw JSON", what)
	}
	if err := json.Compact(&e.b, r); err != nil {
		return fmt.Errorf("schema: %s holds invalid JSON: %w", what, err)
	}
	return nil
}

// extra writes Extra keys in sorted order, refusing a key the construct
// already writes: duplicate keys would make the JSON mean two things.
func (e *encoder) extra(key func(string), ex map[string]json.RawMessage, known ...string) error {
	if len(ex) == 0 {
		return nil
	}
	ks := make([]string, 0, len(ex))
	for k := range ex {
		for _, kn := range known {
			if k == kn {
				return fmt.Errorf("schema: Extra key %q collides with a property of the construct", k)
			}
		}
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		key(k)
		if err := e.raw(fmt.Sprintf("Extra[%q]", k), ex[k]); err != nil {
			return err
		}
	}
	return nil
}

func (e *encoder) common(key func(string), c *Common, known ...string) error {
	if c.Negate || (c.NegatePresent && !e.canonical) {
		key("negate")
		e.b.WriteString(strconv.FormatBool(c.Negate))
	}
	return e.extra(key, c.Extra, append(known, "type", "negate")...)
}

var errNil = errors.New("schema: nil node")

func (e *encoder) node(n Node) error {
	switch v := n.(type) {
	case *And:
		if v == nil {
			return errNil
		}
		return e.list("and", v.Queries, &v.Common)
	case *Or:
		if v == nil {
			return errNil
		}
		return e.list("or", v.Queries, &v.Common)
	case *ObjectType:
		if v == nil {
			return errNil
		}
		key := e.obj()
		key("type")
		e.str("object_type")
		key("object_type")
		e.str(v.ObjectType)
		if err := e.common(key, &v.Common, "object_type"); err != nil {
			return err
		}
	case *ID:
		if v == nil {
			return errNil
		}
		key := e.obj()
		key("type")
		e.str("id")
		key("value")
		e.str(v.Value)
		if err := e.common(key, &v.Common, "value"); err != nil {
			return err
		}
	case *Text:
		if v == nil {
			return errNil
		}
		key := e.obj()
		key("type")
		e.str("text")
		key("mode")
		e.str(string(v.Mode))
		key("value")
		e.str(v.Value)
		if err := e.common(key, &v.Common, "mode", "value"); err != nil {
			return err
		}
	case *FieldCondition:
		if v == nil {
			return errNil
		}
		key := e.obj()
		key("type")
		e.str("field_condition")
		key("field")
		if err := e.field(v.Field); err != nil {
			return err
		}
		key("condition")
		if err := e.condition(v.Condition); err != nil {
			return err
		}
		if err := e.common(key, &v.Common, "field", "condition"); err != nil {
			return err
		}
	case *HasRelated:
		if v == nil {
			return errNil
		}
		key := e.obj()
		key("type")
		e.str("has_related")
		key("this_object_type")
		e.str(v.ThisObjectType)
		key("related_object_type")
		e.str(v.RelatedObjectType)
		key("related_query")
		if err := e.node(v.RelatedQuery); err != nil {
			return err
		}
		if err := e.common(key, &v.Common, "this_object_type", "related_object_type", "related_query"); err != nil {
			return err
		}
	case *SavedSearch:
		if v == nil {
			return errNil
		}
		key := e.obj()
		key("type")
		e.str("saved_search")
		key("saved_search_id")
		e.str(v.SavedSearchID)
		if err := e.common(key, &v.Common, "saved_search_id"); err != nil {
			return err
		}
	case *MatchAll:
		if v == nil {
			return errNil
		}
		key := e.obj()
		key("type")
		e.str("match_all")
		if err := e.common(key, &v.Common); err != nil {
			return err
		}
	case *UnknownNode:
		if v == nil {
			return errNil
		}
		return e.raw(fmt.Sprintf("unknown node %q", v.Type), v.Raw)
	case nil:
		return errNil
	default:
		return fmt.Errorf("schema: cannot encode node type %T", n)
	}
	e.b.WriteByte('}')
	return nil
}

func (e *encoder) list(typ string, qs []Node, c *Common) error {
	key := e.obj()
	key("type")
	e.str(typ)
	key("queries")
	e.b.WriteByte('[')
	for i, q := range qs {
		if i > 0 {
			e.b.WriteByte(',')
		}
		if err := e.node(q); err != nil {
			return err
		}
	}
	e.b.WriteByte(']')
	if err := e.common(key, c, "queries"); err != nil {
		return err
	}
	e.b.WriteByte('}')
	return nil
}

func (e *encoder) number(f float64) {
	// encoding/json's float formatting: shortest repr, no exponent for
	// ordinary magnitudes.
	b, _ := json.Marshal(f)
	e.b.Write(b)
}

func (e *encoder) strs(vs []string) {
	e.b.WriteByte('[')
	for i, v := range vs {
		if i > 0 {
			e.b.WriteByte(',')
		}
		e.str(v)
	}
	e.b.WriteByte(']')
}

var errNilCondition = errors.New("schema: nil condition")

func (e *encoder) condition(c Condition) error {
	var key func(string)
	var ex map[string]json.RawMessage
	var known []string
	switch v := c.(type) {
	case *TextCondition:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("text")
		key("mode")
		e.str(string(v.Mode))
		key("value")
		e.str(v.Value)
		ex, known = v.Extra, []string{"mode", "value"}
	case *Term:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("term")
		key("values")
		e.strs(v.Values)
		ex, known = v.Extra, []string{"values"}
	case *Boolean:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("boolean")
		key("value")
		e.b.WriteString(strconv.FormatBool(v.Value))
		ex, known = v.Extra, []string{"value"}
	case *NumberRange:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("number_range")
		for _, b := range []struct {
			k string
			f *float64
		}{{"gt", v.GT}, {"gte", v.GTE}, {"lt", v.LT}, {"lte", v.LTE}} {
			if b.f != nil {
				key(b.k)
				e.number(*b.f)
			}
		}
		ex, known = v.Extra, []string{"gt", "gte", "lt", "lte"}
	case *Reference:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("reference")
		key("reference_type")
		e.str(v.ReferenceType)
		key("object_ids")
		e.strs(v.ObjectIDs)
		ex, known = v.Extra, []string{"reference_type", "object_ids"}
	case *CurrentUser:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("current_user")
		ex = v.Extra
	case *Exists:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("exists")
		ex = v.Extra
	case *MomentRange:
		if v == nil {
			return errNilCondition
		}
		key = e.obj()
		key("type")
		e.str("moment_range")
		key("on_or_after")
		if err := e.moment(v.OnOrAfter, true); err != nil {
			return err
		}
		key("before")
		if err := e.moment(v.Before, true); err != nil {
			return err
		}
		ex, known = v.Extra, []string{"on_or_after", "before"}
	case *UnknownCondition:
		if v == nil {
			return errNilCondition
		}
		return e.raw(fmt.Sprintf("unknown condition %q", v.Type), v.Raw)
	case nil:
		return errNilCondition
	default:
		return fmt.Errorf("schema: cannot encode condition type %T", c)
	}
	if err := e.extra(key, ex, append(known, "type")...); err != nil {
		return err
	}
	e.b.WriteByte('}')
	return nil
}

var errNilField = errors.New("schema: nil field")

func (e *encoder) field(f Field) error {
	var key func(string)
	switch v := f.(type) {
	case *RegularField:
		if v == nil {
			return errNilField
		}
		key = e.obj()
		key("type")
		e.str("regular_field")
		key("object_type")
		e.str(v.ObjectType)
		key("field_name")
		e.str(v.FieldName)
		if err := e.extra(key, v.Extra, "type", "object_type", "field_name"); err != nil {
			return err
		}
	case *CustomField:
		if v == nil {
			return errNilField
		}
		key = e.obj()
		key("type")
		e.str("custom_field")
		key("custom_field_id")
		e.str(v.CustomFieldID)
		if err := e.extra(key, v.Extra, "type", "custom_field_id"); err != nil {
			return err
		}
	case *UnknownField:
		if v == nil {
			return errNilField
		}
		return e.raw(fmt.Sprintf("unknown field %q", v.Type), v.Raw)
	case nil:
		return errNilField
	default:
		return fmt.Errorf("schema: cannot encode field type %T", f)
	}
	e.b.WriteByte('}')
	return nil
}

// moment writes m; a nil Moment is null where nullOK (the open end of a
// moment_range) and an error elsewhere.
func (e *encoder) moment(m Moment, nullOK bool) error {
	if m == nil {
		if nullOK {
			e.b.WriteString("null")
			return nil
		}
		return errors.New("schema: nil moment")
	}
	var key func(string)
	var ex map[string]json.RawMessage
	var known []string
	switch v := m.(type) {
	case *Now:
		if v == nil {
			return e.moment(nil, nullOK)
		}
		key = e.obj()
		key("type")
		e.str("now")
		ex = v.Extra
	case *FixedUTC:
		if v == nil {
			return e.moment(nil, nullOK)
		}
		key = e.obj()
		key("type")
		e.str("fixed_utc")
		key("value")
		e.str(v.Value)
		ex, known = v.Extra, []string{"value"}
	case *FixedLocalDate:
		if v == nil {
			return e.moment(nil, nullOK)
		}
		key = e.obj()
		key("type")
		e.str("fixed_local_date")
		key("value")
		e.str(v.Value)
		key("which")
		e.str(string(v.Which))
		ex, known = v.Extra, []string{"value", "which"}
	case *Offset:
		if v == nil {
			return e.moment(nil, nullOK)
		}
		key = e.obj()
		key("type")
		e.str("offset")
		key("direction")
		e.str(v.Direction)
		key("moment")
		if err := e.moment(v.Moment, false); err != nil {
			return err
		}
		key("offset")
		e.duration(v.Offset)
		key("which_day_end")
		e.str(string(v.WhichDayEnd))
		ex, known = v.Extra, []string{"direction", "moment", "offset", "which_day_end"}
	case *PredefinedPeriod:
		if v == nil {
			return e.moment(nil, nullOK)
		}
		key = e.obj()
		key("type")
		e.str("start_end_of_predefined_relative_period")
		key("range")
		e.str(v.Range)
		key("which")
		e.str(string(v.Which))
		ex, known = v.Extra, []string{"range", "which"}
	case *UnknownMoment:
		if v == nil {
			return e.moment(nil, nullOK)
		}
		return e.raw(fmt.Sprintf("unknown moment %q", v.Type), v.Raw)
	default:
		return fmt.Errorf("schema: cannot encode moment type %T", m)
	}
	if err := e.extra(key, ex, append(known, "type")...); err != nil {
		return err
	}
	e.b.WriteByte('}')
	return nil
}

func (e *encoder) duration(d Duration) {
	key := e.obj()
	for i, v := range []int{d.Years, d.Months, d.Weeks, d.Days, d.Hours, d.Minutes, d.Seconds} {
		key(durationKey[i])
		e.b.WriteString(strconv.Itoa(v))
	}
	e.b.WriteByte('}')
}

func (e *encoder) sort(s *Sort) error {
	key := e.obj()
	key("direction")
	e.str(s.Direction)
	key("field")
	if err := e.field(s.Field); err != nil {
		return err
	}
	e.b.WriteByte('}')
	return nil
}

// marshal runs one of the encoder's writers for a MarshalJSON method.
func marshal(write func(e *encoder) error) ([]byte, error) {
	e := &encoder{}
	if err := write(e); err != nil {
		return nil, err
	}
	return e.b.Bytes(), nil
}

// MarshalJSON methods: every concrete construct marshals to Close's JSON,
// the bytes Encode writes for it, so a Node can sit inside any struct that
// goes to encoding/json. (json.Marshal then escapes <, > and & in strings
// as \u003c etc.; the JSON value is unchanged.)

func (n And) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n Or) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n ObjectType) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n ID) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n Text) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n FieldCondition) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n HasRelated) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n SavedSearch) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n MatchAll) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}
func (n UnknownNode) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.node(&n) })
}

func (c TextCondition) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c Term) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c Boolean) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c NumberRange) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c Reference) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c CurrentUser) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c Exists) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c MomentRange) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}
func (c UnknownCondition) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.condition(&c) })
}

func (f RegularField) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.field(&f) })
}
func (f CustomField) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.field(&f) })
}
func (f UnknownField) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.field(&f) })
}

func (m Now) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.moment(&m, false) })
}
func (m FixedUTC) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.moment(&m, false) })
}
func (m FixedLocalDate) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.moment(&m, false) })
}
func (m Offset) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.moment(&m, false) })
}
func (m PredefinedPeriod) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.moment(&m, false) })
}
func (m UnknownMoment) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.moment(&m, false) })
}

// MarshalJSON writes the seven offset keys Close's UI always sends.
func (d Duration) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { e.duration(d); return nil })
}

func (s Sort) MarshalJSON() ([]byte, error) {
	return marshal(func(e *encoder) error { return e.sort(&s) })
}
