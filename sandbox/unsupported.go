package sandbox

import (
	"net/http"
)

// A query the sandbox cannot evaluate is not necessarily one Close
// refuses: Close has fields, object types, conditions and moments the
// sandbox does not model. Such a query is answered 400 like a refused one
// (so nothing runs on a guess), with a marker that tells the client this
// is the sandbox's limit, not Close's verdict: the header
// X-Sandbox-Unsupported: 1 and, beside Close's error keys, a
// "sandbox_unsupported" object naming the field and the reason
// (sandbox/README.md documents the marker).

// IdentityHeader is set on every answer of the sandbox; Close never sends it.
const IdentityHeader = "X-Bulkguard-Sandbox"

// UnsupportedHeader is the response header that marks a 400 as the
// sandbox's own limit.
const UnsupportedHeader = "X-Sandbox-Unsupported"

// unsup is qerr for a construct the sandbox cannot evaluate.
func unsup(ptr, format string, args ...any) error {
	err := qerr(ptr, format, args...).(*queryError)
	err.unsupported = true
	return err
}

// answerUnsupported writes the 400 of a construct the sandbox cannot
// evaluate: Close's field-errors shape plus the marker.
func answerUnsupported(w http.ResponseWriter, key, msg string) {
	w.Header().Set(UnsupportedHeader, "1")
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"errors":       []any{},
		"field-errors": map[string]any{key: msg},
		"sandbox_unsupported": map[string]any{
			"field":   key,
			"message": msg,
			"note":    "the sandbox cannot evaluate this; Close may accept it",
		},
	})
}
