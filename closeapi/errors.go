package closeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalidID is wrapped by every id validation failure. Ids are checked before they are put
// into a URL path so that a wrong kind of id (a lead id passed as a job id) or a path trick
// ("../x") never reaches Close.
var ErrInvalidID = errors.New("invalid id")

// APIError is a non-2xx answer from Close. It decodes every error body shape seen from Close
// (docs/close-api.md §4.3): {"error": …}, {"errors": […], "field-errors": {…}} (field error values are
// strings or nested objects), the {"status": 429, "title": …} shape of rate-limit mocks, and
// bodies that are not JSON at all (kept as a short excerpt).
type APIError struct {
	StatusCode  int
	Message     string         // "error", or "title"/"detail", or an excerpt of a non-JSON body
	Errors      []any          // "errors" (Close sends [] on validation errors)
	FieldErrors map[string]any // "field-errors": field name → message (string) or nested map
	// RetryAfter is how long Close asked us to wait (RateLimit reset, else Retry-After); zero
	// when it did not say.
	RetryAfter time.Duration
	Method     string // HTTP method of the failed call
	Path       string // path below the base URL, e.g. /bulk_action/delete/
	Attempts   int    // how many requests were sent for this call (retries included)
	// SandboxUnsupported marks a 400 from bulkguard's sandbox for a construct
	// it does not model: the sandbox's limit, not Close's verdict on the query.
	SandboxUnsupported bool
}

// SandboxUnsupportedHeader is the header bulkguard's sandbox sets on such a
// 400 (sandbox/README.md). Close itself never sends it.
const SandboxUnsupportedHeader = "X-Sandbox-Unsupported"

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "closeapi: %s %s: %d %s", e.Method, e.Path, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if fe := flattenFieldErrors(e.FieldErrors); len(fe) > 0 {
		b.WriteString("; field errors: ")
		b.WriteString(strings.Join(fe, "; "))
	}
	if len(e.Errors) > 0 {
		parts := make([]string, 0, len(e.Errors))
		for _, v := range e.Errors {
			parts = append(parts, valueText(v))
		}
		b.WriteString("; errors: ")
		b.WriteString(strings.Join(parts, "; "))
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

// TransportError is a call that got no HTTP answer: connection refused, reset or closed, a
// timeout, a cancelled context, or a 2xx answer whose body could not be read or decoded.
type TransportError struct {
	Method, Path string
	// Sent reports that the whole request was written to the connection (or that Close
	// answered 2xx), so Close may have acted on it. See IsAmbiguous. Whether a request was
	// written is tracked only for the calls that are never retried (create, status change):
	// for a read that got no answer Sent is false, since a read changes nothing.
	Sent     bool
	Attempts int
	Err      error
	msg      string // Err's text with the credential removed and without the URL
}

func (e *TransportError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "closeapi: %s %s: ", e.Method, e.Path)
	if e.Sent && e.Method != http.MethodGet {
		b.WriteString("the request may have reached Close: ")
	}
	b.WriteString(e.msg)
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " (after %d attempts)", e.Attempts)
	}
	return b.String()
}

func (e *TransportError) Unwrap() error { return e.Err }

// Timeout reports whether the call failed because a deadline passed.
func (e *TransportError) Timeout() bool {
	var t interface{ Timeout() bool }
	if errors.As(e.Err, &t) && t.Timeout() {
		return true
	}
	return errors.Is(e.Err, context.DeadlineExceeded)
}

func statusIs(err error, code int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == code
}

// IsNotFound reports a 404 from Close (unknown job or view, or one of another organization).
func IsNotFound(err error) bool { return statusIs(err, http.StatusNotFound) }

// IsRateLimited reports a 429 from Close.
func IsRateLimited(err error) bool { return statusIs(err, http.StatusTooManyRequests) }

// IsUnauthorized reports a 401: the credential is wrong, revoked or expired.
func IsUnauthorized(err error) bool { return statusIs(err, http.StatusUnauthorized) }

// IsValidation reports a 400: Close rejected the request body or parameters; nothing happened.
func IsValidation(err error) bool { return statusIs(err, http.StatusBadRequest) }

// IsAmbiguous reports that the request may have reached Close and taken effect although no
// usable answer came back: the whole request was written and then the connection failed, the
// call timed out or was cancelled, Close (or a proxy in front of it) answered 500, 502 or 504,
// or it answered 2xx with a body that could not be read. 500 is included although the contract
// names only 502/504: an internal error can come after the job was stored, and treating it as
// "nothing happened" is the unsafe mistake. 503 is not: it means the request was not handled. Callers must not blindly repeat a
// non-idempotent call (the bulk-delete create) after such an error; they have to look for its
// effect first. An error from id validation, a refused connection, or a 4xx is never ambiguous.
func IsAmbiguous(err error) bool {
	var ae *APIError
	if errors.As(err, &ae) {
		switch ae.StatusCode {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	var te *TransportError
	if errors.As(err, &te) {
		return te.Sent
	}
	return false
}

// closeErrorBody accepts every error body shape at once; unknown keys are ignored.
type closeErrorBody struct {
	Error       any            `json:"error"`
	Errors      []any          `json:"errors"`
	FieldErrors map[string]any `json:"field-errors"`
	Title       string         `json:"title"` // with "status", the shape of 429 mocks
	Detail      string         `json:"detail"`
	Message     string         `json:"message"`
	RateReset   any            `json:"rate_reset"` // older 429 bodies carried the wait here
}

// maxExcerpt bounds the part of a non-JSON error body kept in an error string: enough to
// recognise an HTML error page or a proxy message, short enough for a log line.
const maxExcerpt = 200

// newAPIError builds the error for a non-2xx answer. redact removes the credential from any
// text taken from the body (a misbehaving proxy could echo the Authorization header).
func newAPIError(method, path string, status int, body []byte, redact func(string) string) (*APIError, float64) {
	e := &APIError{StatusCode: status, Method: method, Path: path}
	var rateReset float64 = -1
	trimmed := strings.TrimSpace(string(body))
	var eb closeErrorBody
	if trimmed != "" && json.Unmarshal([]byte(trimmed), &eb) == nil && strings.HasPrefix(trimmed, "{") {
		var msgs []string
		if eb.Error != nil {
			msgs = append(msgs, valueText(eb.Error))
		}
		if eb.Title != "" {
			msgs = append(msgs, eb.Title)
		}
		if eb.Detail != "" && eb.Detail != eb.Title {
			msgs = append(msgs, eb.Detail)
		}
		if eb.Message != "" {
			msgs = append(msgs, eb.Message)
		}
		e.Message = redact(strings.Join(msgs, ": "))
		e.Errors = redactAny(eb.Errors, redact).([]any)
		if eb.FieldErrors != nil {
			e.FieldErrors = redactAny(eb.FieldErrors, redact).(map[string]any)
		}
		if f, ok := numberOf(eb.RateReset); ok && f >= 0 {
			rateReset = f
		}
		if e.Message == "" && len(e.Errors) == 0 && len(e.FieldErrors) == 0 {
			e.Message = excerpt(trimmed, redact)
		}
		return e, rateReset
	}
	e.Message = excerpt(trimmed, redact)
	return e, rateReset
}

// excerpt keeps the start of a body on one line, credential removed, cut at a rune boundary.
func excerpt(s string, redact func(string) string) string {
	s = redact(strings.Join(strings.Fields(s), " "))
	if len(s) <= maxExcerpt {
		return s
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// redactAny applies redact to every string inside a decoded JSON value.
func redactAny(v any, redact func(string) string) any {
	switch t := v.(type) {
	case string:
		return redact(t)
	case []any:
		if t == nil {
			return t
		}
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = redactAny(x, redact)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[redact(k)] = redactAny(x, redact)
		}
		return out
	default:
		return v
	}
}

// flattenFieldErrors renders field errors in a stable order; nested maps become dotted paths
// ("addresses.0.zipcode: …") and lists are joined.
func flattenFieldErrors(fe map[string]any) []string {
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, t[k])
			}
		default:
			out = append(out, prefix+": "+valueText(v))
		}
	}
	if len(fe) > 0 {
		walk("", map[string]any(fe))
	}
	return out
}

// valueText renders a decoded JSON value for a person: strings as is, lists joined, anything
// else as compact JSON.
func valueText(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case []any:
		parts := make([]string, 0, len(t))
		for _, x := range t {
			parts = append(parts, valueText(x))
		}
		return strings.Join(parts, ", ")
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

func numberOf(v any) (float64, bool) {
	switch t := v.(type) {
	case float64:
		return t, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return f, err == nil
	}
	return 0, false
}

// redactSecrets replaces every form of the credential in s with
// "[redacted]", whatever the case of its letters: a server that echoes the
// key upper-cased in an error body must not get it past the redaction.
func redactSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = replaceFold(s, sec, "[redacted]")
		}
	}
	return s
}

// replaceFold replaces old in s, ASCII letters compared without case.
// Folding only ASCII keeps byte offsets of the folded copy valid in s.
func replaceFold(s, old, repl string) string {
	ls, lo := asciiLower(s), asciiLower(old)
	j := strings.Index(ls, lo)
	if j < 0 {
		return s
	}
	var b strings.Builder
	i := 0
	for ; j >= 0; j = strings.Index(ls[i:], lo) {
		b.WriteString(s[i : i+j])
		b.WriteString(repl)
		i += j + len(lo)
	}
	b.WriteString(s[i:])
	return b.String()
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}
