package tools

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// unreadableKey marks, in place of a tools/call's arguments, arguments that
// mcp-go could not have read (see MarkUnreadableArguments).
const unreadableKey = "bulkguard:unreadable_arguments"

// unreadable is what replaces such arguments: where the problem is and why.
type unreadable struct {
	Pointer string `json:"pointer"`
	Value   string `json:"value"`
}

// MarkUnreadableArguments prepares one JSON-RPC message for mcp-go. mcp-go
// decodes a tools/call's arguments into Go values before any handler runs,
// and a number no float64 holds (results_limit: 1e309) fails that decoding:
// the caller gets a JSON-RPC error instead of a tool result naming the
// argument. Such arguments are replaced here with a marker that decodeArgs
// turns into that tool result. Every other message is returned as it is.
// The transports (internal/server) call it on each message they read.
func MarkUnreadableArguments(msg []byte) []byte {
	if !bytes.Contains(msg, []byte(`"tools/call"`)) {
		return msg
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(msg, &m) != nil || string(m["method"]) != `"tools/call"` {
		return msg
	}
	var params map[string]json.RawMessage
	if json.Unmarshal(m["params"], &params) != nil {
		return msg
	}
	args, ok := params["arguments"]
	if !ok || json.Unmarshal(args, new(any)) == nil {
		return msg
	}
	ptr, value, found := outOfRange(args)
	if !found {
		return msg
	}
	marker, err := json.Marshal(map[string]unreadable{unreadableKey: {Pointer: ptr, Value: value}})
	if err != nil {
		return msg
	}
	params["arguments"] = marker
	if m["params"], err = json.Marshal(params); err != nil {
		return msg
	}
	out, err := json.Marshal(m)
	if err != nil {
		return msg
	}
	return out
}

// outOfRange finds the first number in doc (keys in order) that no float64
// holds, as a JSON pointer and the number as it was written.
func outOfRange(doc []byte) (ptr, value string, found bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return "", "", false
	}
	var walk func(p string, v any) bool
	walk = func(p string, v any) bool {
		switch t := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(t.String(), 64); err != nil {
				ptr, value = p, t.String()
				return true
			}
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				if walk(p+"/"+escapePointer(k), t[k]) {
					return true
				}
			}
		case []any:
			for i, x := range t {
				if walk(p+"/"+strconv.Itoa(i), x) {
					return true
				}
			}
		}
		return false
	}
	return ptr, value, walk("", v)
}

// unreadableError is the argError of marked arguments.
func unreadableError(raw json.RawMessage) *argError {
	var u unreadable
	if json.Unmarshal(raw, &u) != nil {
		return &argError{Problem: "the arguments could not be read", Next: "Send the arguments as a JSON object."}
	}
	name := strings.TrimPrefix(u.Pointer, "/")
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	return &argError{
		Pointer: u.Pointer,
		Problem: "the number " + clipValue(u.Value) + " is out of range: no number that large can be read",
		Next:    "Fix " + name + " (send a number in its range) and call the tool again.",
	}
}

func clipValue(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
