package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// methodOverride applies Close's `x-http-method-override` header
// (docs/close-api.md §4.6 [DOC]): a POST carrying it is answered as the
// method it names. For GET (the documented use: filters too long for a
// URL) the body is `{"_params": {...}}` and its entries become the query
// parameters, added to any already in the URL; for PUT and DELETE the body
// is the request body as usual. The header on any other method, or naming
// an unknown method, is a 400. ok is false when it has answered.
func (s *Server) methodOverride(w http.ResponseWriter, r *http.Request) bool {
	m := strings.ToUpper(strings.TrimSpace(r.Header.Get("x-http-method-override")))
	if m == "" {
		return true
	}
	if r.Method != http.MethodPost {
		errorJSON(w, http.StatusBadRequest, "x-http-method-override is only accepted on POST requests.")
		return false
	}
	switch m {
	case http.MethodPost:
		return true
	case http.MethodPut, http.MethodDelete:
		r.Method = m
		return true
	case http.MethodGet:
	default:
		errorJSON(w, http.StatusBadRequest, fmt.Sprintf("x-http-method-override: unsupported method %q.", m))
		return false
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(b) > maxBody {
		errorJSON(w, http.StatusBadRequest, "The request body could not be read.")
		return false
	}
	q := r.URL.Query()
	if len(bytes.TrimSpace(b)) > 0 {
		var body struct {
			Params map[string]json.RawMessage `json:"_params"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			errorJSON(w, http.StatusBadRequest, "The request contains invalid JSON.")
			return false
		}
		for k, raw := range body.Params {
			v, ok := paramValue(raw)
			if !ok {
				fieldError(w, "_params."+k, "Input should be a string, number, boolean or a list of them")
				return false
			}
			q.Set(k, v)
		}
	}
	r.Method = http.MethodGet
	r.URL.RawQuery = q.Encode()
	r.Body = http.NoBody
	return true
}

// paramValue renders a JSON value as a query-string value: strings as they
// are, numbers and booleans as written, lists comma-joined (as _fields and
// the __in filters take them).
func paramValue(raw json.RawMessage) (string, bool) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", false
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64, bool:
		return string(bytes.TrimSpace(raw)), true
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			b, err := json.Marshal(e)
			if err != nil {
				return "", false
			}
			p, ok := paramValue(b)
			if !ok {
				return "", false
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, ","), true
	}
	return "", false
}
