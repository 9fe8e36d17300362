package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// argError is a problem with the arguments themselves, found before
// anything reaches the guard or Close. It renders like a guard refusal.
type argError struct {
	Pointer string // JSON pointer into the arguments
	Problem string
	Next    string
}

func (e *argError) Error() string { return e.Problem }

// argNames lists the JSON names of T's fields: the only keys T accepts.
func argNames[T any]() []string {
	t := reflect.TypeFor[T]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

// rawArguments returns the call's arguments as JSON. RawArguments is what
// came over the wire (it keeps integers above 2^53 exact); a request built
// in Go has only Arguments.
func rawArguments(req mcp.CallToolRequest) ([]byte, error) {
	raw := bytes.TrimSpace(req.Params.RawArguments)
	if len(raw) == 0 {
		if req.Params.Arguments == nil {
			return []byte("{}"), nil
		}
		b, err := json.Marshal(req.Params.Arguments)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if bytes.Equal(raw, []byte("null")) {
		return []byte("{}"), nil
	}
	return raw, nil
}

// decodeArgs decodes the call's arguments into dst strictly: an unknown key
// or a value of the wrong type is an argError naming the place (a JSON
// pointer) and the valid keys. jsonKeys are the keys whose values are JSON
// documents (s_query, sort): some clients send those as strings (the MCP
// Inspector's --tool-arg, some chat UIs), so a string holding a JSON object
// or array is taken as that document.
func decodeArgs[T any](req mcp.CallToolRequest, dst *T, jsonKeys ...string) *argError {
	raw, err := rawArguments(req)
	if err != nil {
		return &argError{Problem: "the arguments could not be read: " + err.Error(), Next: "Send the arguments as a JSON object."}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return &argError{Problem: "the arguments must be a JSON object", Next: "Send the arguments as a JSON object."}
	}
	if u, ok := fields[unreadableKey]; ok {
		return unreadableError(u)
	}
	valid := argNames[T]()
	var unknown []string
	for k := range fields {
		if !slices.Contains(valid, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		quoted := make([]string, len(unknown))
		for i, k := range unknown {
			quoted[i] = fmt.Sprintf("%q", k)
		}
		word := "argument"
		if len(unknown) > 1 {
			word = "arguments"
		}
		return &argError{
			Pointer: "/" + escapePointer(unknown[0]),
			Problem: fmt.Sprintf("unknown %s %s", word, strings.Join(quoted, ", ")),
			Next:    "The valid arguments are: " + strings.Join(valid, ", ") + ".",
		}
	}
	for _, k := range jsonKeys {
		v, ok := fields[k]
		if !ok {
			continue
		}
		doc, aerr := unstringJSON(k, v)
		if aerr != nil {
			return aerr
		}
		fields[k] = doc
	}
	// Each field is decoded on its own so a type error names its key even
	// where encoding/json would not (a field of a named type).
	rv := reflect.ValueOf(dst).Elem()
	rt := rv.Type()
	for i := range rt.NumField() {
		name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		v, ok := fields[name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			continue // absent and null both mean "not given"
		}
		if err := json.Unmarshal(v, rv.Field(i).Addr().Interface()); err != nil {
			return &argError{
				Pointer: "/" + escapePointer(name),
				Problem: "expected " + describeType(rt.Field(i).Type) + ", got " + describeJSON(v),
				Next:    "Fix " + name + " and call the tool again.",
			}
		}
	}
	return nil
}

// unstringJSON accepts a JSON document sent either as itself or as a string
// holding it.
func unstringJSON(key string, v json.RawMessage) (json.RawMessage, *argError) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] != '"' {
		return v, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, &argError{Pointer: "/" + key, Problem: "the value is not valid JSON", Next: "Send " + key + " as a JSON value."}
	}
	inner := bytes.TrimSpace([]byte(s))
	want := byte('{')
	what := "object"
	if key == "sort" {
		want, what = '[', "array"
	}
	if len(inner) == 0 || inner[0] != want || !json.Valid(inner) {
		return nil, &argError{
			Pointer: "/" + key,
			Problem: fmt.Sprintf("expected a JSON %s, got a string that does not hold one", what),
			Next:    "Send " + key + " as a JSON " + what + ", not as text.",
		}
	}
	return inner, nil
}

func describeType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[queryArg]():
		return "a query object"
	case reflect.TypeFor[sortArg]():
		return "an array of sort specs"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "an array"
	}
	return t.String()
}

// describeJSON names the kind of a JSON value for an error message, with
// the value itself when it is short.
func describeJSON(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	var kind string
	switch {
	case len(v) == 0:
		return "nothing"
	case v[0] == '"':
		kind = "a string"
	case v[0] == '{':
		return "an object"
	case v[0] == '[':
		return "an array"
	case v[0] == 't' || v[0] == 'f':
		kind = "a boolean"
	case v[0] == 'n':
		return "null"
	default:
		kind = "the number"
		if len(v) <= 24 {
			return kind + " " + string(v)
		}
		return "a number"
	}
	if len(v) <= 40 {
		return kind + " " + string(v)
	}
	return kind
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// errRequired is the argError for a missing required argument.
func errRequired(name, what string) *argError {
	return &argError{Pointer: "/" + name, Problem: name + " is required", Next: "Pass " + name + " (" + what + ")."}
}
