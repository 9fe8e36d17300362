package closeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// TestAPIErrorShapes decodes every error body shape Close (or something in front of it) sends.
func TestAPIErrorShapes(t *testing.T) {
	rateLimitMock := string(readFixture(t, "06-rate-limit-429-mock.json"))
	tests := []struct {
		name        string
		status      int
		body        string
		wantMsg     string
		wantErrors  []any
		wantFields  map[string]any
		helper      func(error) bool
		wantInError []string
	}{
		{name: "error string 401", status: 401, body: `{"error": "Unauthorized"}`, wantMsg: "Unauthorized", helper: IsUnauthorized,
			wantInError: []string{"GET /bulk_action/delete/bulkdelete_abc/", "401 Unauthorized: Unauthorized"}},
		{name: "error string 404", status: 404, body: `{"error": "Not found"}`, wantMsg: "Not found", helper: IsNotFound},
		{name: "invalid JSON message", status: 400, body: `{"error": "The request contains invalid JSON."}`, wantMsg: "The request contains invalid JSON.", helper: IsValidation},
		{name: "validation with errors and field-errors", status: 400,
			body:       `{"errors": [], "field-errors": {"lead": "This field is required."}}`,
			wantErrors: []any{}, wantFields: map[string]any{"lead": "This field is required."}, helper: IsValidation,
			wantInError: []string{"400 Bad Request", "field errors: lead: This field is required."}},
		{name: "field-errors without errors key", status: 400, body: `{"field-errors": {"cursor": "Expired cursor"}}`,
			wantFields: map[string]any{"cursor": "Expired cursor"}, helper: IsValidation, wantInError: []string{"cursor: Expired cursor"}},
		{name: "nested field-errors", status: 400,
			body:        `{"errors": ["Bad query"], "field-errors": {"s_query": {"queries": {"1": {"condition": "Unknown type"}}}, "_limit": "Input should be less than or equal to 200"}}`,
			wantErrors:  []any{"Bad query"},
			wantFields:  map[string]any{"s_query": map[string]any{"queries": map[string]any{"1": map[string]any{"condition": "Unknown type"}}}, "_limit": "Input should be less than or equal to 200"},
			helper:      IsValidation,
			wantInError: []string{"_limit: Input should be less than or equal to 200; s_query.queries.1.condition: Unknown type", "errors: Bad query"}},
		{name: "429 mock body", status: 429, body: rateLimitMock, wantMsg: "Rate limit exceeded", helper: IsRateLimited,
			wantInError: []string{"429 Too Many Requests: Rate limit exceeded"}},
		{name: "403 error object", status: 403, body: `{"error": {"code": "perm", "detail": "admins only"}}`, wantMsg: `{"code":"perm","detail":"admins only"}`,
			helper: func(err error) bool { return statusIs(err, 403) }},
		{name: "HTML body", status: 502, body: "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>",
			wantMsg: "<html> <head><title>502 Bad Gateway</title></head> <body>nginx</body></html>", helper: IsAmbiguous},
		{name: "long text body is cut", status: 500, body: strings.Repeat("é", 300),
			wantMsg: strings.Repeat("é", 100) + "…", helper: func(err error) bool { return statusIs(err, 500) }},
		{name: "empty body", status: 404, body: "", wantMsg: "", helper: IsNotFound},
		{name: "JSON that is not an error object", status: 405, body: `["nope"]`, wantMsg: `["nope"]`,
			helper: func(err error) bool { return statusIs(err, 405) }},
		{name: "unknown JSON object keeps an excerpt", status: 418, body: `{"teapot": true}`, wantMsg: `{"teapot": true}`,
			helper: func(err error) bool { return statusIs(err, 418) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { jsonReply(w, tt.status, tt.body) })
			c, _ := testClient(t, f.base(), func(o *Options) { o.MaxAttempts = 1 })
			_, err := c.GetBulkDelete(context.Background(), "bulkdelete_abc")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err %v (%T) is not an *APIError", err, err)
			}
			if ae.StatusCode != tt.status || ae.Method != "GET" || ae.Path != "/bulk_action/delete/bulkdelete_abc/" {
				t.Errorf("status %d method %s path %s", ae.StatusCode, ae.Method, ae.Path)
			}
			if ae.Message != tt.wantMsg {
				t.Errorf("message %q, want %q", ae.Message, tt.wantMsg)
			}
			if !reflect.DeepEqual(ae.Errors, tt.wantErrors) {
				t.Errorf("errors %#v, want %#v", ae.Errors, tt.wantErrors)
			}
			if !reflect.DeepEqual(ae.FieldErrors, tt.wantFields) {
				t.Errorf("field errors %#v, want %#v", ae.FieldErrors, tt.wantFields)
			}
			if !tt.helper(err) {
				t.Errorf("helper false for %v", err)
			}
			for _, s := range tt.wantInError {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q lacks %q", err.Error(), s)
				}
			}
			if strings.Contains(err.Error(), f.srv.URL) {
				t.Errorf("error names the host: %v", err)
			}
		})
	}
}

func TestHelpersAreExclusive(t *testing.T) {
	helpers := map[string]func(error) bool{"NotFound": IsNotFound, "RateLimited": IsRateLimited, "Unauthorized": IsUnauthorized, "Validation": IsValidation}
	codes := map[int]string{404: "NotFound", 429: "RateLimited", 401: "Unauthorized", 400: "Validation", 403: "", 500: ""}
	for code, want := range codes {
		err := error(&APIError{StatusCode: code})
		wrapped := errors.Join(errors.New("context"), err)
		for name, h := range helpers {
			if h(err) != (name == want) || h(wrapped) != (name == want) {
				t.Errorf("%d: Is%s = %v", code, name, h(err))
			}
		}
	}
	for _, err := range []error{nil, errors.New("x"), ErrInvalidID} {
		for name, h := range helpers {
			if h(err) {
				t.Errorf("Is%s(%v) true", name, err)
			}
		}
		if IsAmbiguous(err) {
			t.Errorf("IsAmbiguous(%v) true", err)
		}
	}
}

// TestInvalidInputsSendNothing: bad ids, statuses and bodies are refused before any request.
func TestInvalidInputsSendNothing(t *testing.T) {
	tests := []struct {
		name    string
		call    func(ctx context.Context, c *Client) error
		invalid bool // wraps ErrInvalidID
	}{
		{"get with path traversal", func(ctx context.Context, c *Client) error { _, err := c.GetBulkDelete(ctx, "../x"); return err }, true},
		{"get with a lead id", func(ctx context.Context, c *Client) error {
			_, err := c.GetBulkDelete(ctx, "lead_IIDHIStmFcFQZZP0BRe99V1MCoXWz2PGCm6EDmR9v2O")
			return err
		}, true},
		{"get with an empty id", func(ctx context.Context, c *Client) error { _, err := c.GetBulkDelete(ctx, ""); return err }, true},
		{"get with a query in the id", func(ctx context.Context, c *Client) error {
			_, err := c.GetBulkDelete(ctx, "bulkdelete_a?x=1")
			return err
		}, true},
		{"get with a slash in the id", func(ctx context.Context, c *Client) error {
			_, err := c.GetBulkDelete(ctx, "bulkdelete_a/../b")
			return err
		}, true},
		{"get with an encoded slash", func(ctx context.Context, c *Client) error {
			_, err := c.GetBulkDelete(ctx, "bulkdelete_a%2F")
			return err
		}, true},
		{"get with a smart view id", func(ctx context.Context, c *Client) error { _, err := c.GetBulkDelete(ctx, "save_abc"); return err }, true},
		{"set status with a bad id", func(ctx context.Context, c *Client) error {
			_, err := c.SetBulkDeleteStatus(ctx, "../x", StatusPaused)
			return err
		}, true},
		{"set status to cancel", func(ctx context.Context, c *Client) error {
			_, err := c.SetBulkDeleteStatus(ctx, "bulkdelete_abc", "cancelled")
			return err
		}, false},
		{"smart view with a job id", func(ctx context.Context, c *Client) error { _, err := c.SmartView(ctx, "bulkdelete_abc"); return err }, true},
		{"smart view with traversal", func(ctx context.Context, c *Client) error { _, err := c.SmartView(ctx, "save_../../me"); return err }, true},
		{"create without s_query", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{})
			return err
		}, false},
		{"create with null s_query", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage("null")})
			return err
		}, false},
		{"create with an array s_query", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage("[]")})
			return err
		}, false},
		{"create with broken JSON", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(`{"type":`)})
			return err
		}, false},
		{"create with an object sort", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(testQuery), Sort: json.RawMessage(`{}`)})
			return err
		}, false},
		{"create with a negative results_limit", func(ctx context.Context, c *Client) error {
			_, err := c.CreateBulkDelete(ctx, BulkDeleteRequest{SQuery: json.RawMessage(testQuery), ResultsLimit: ptr(-1)})
			return err
		}, false},
		{"list with a negative limit", func(ctx context.Context, c *Client) error { _, err := c.ListBulkDeletes(ctx, -1, 0); return err }, false},
		{"sample with a bad object type", func(ctx context.Context, c *Client) error {
			_, err := c.Sample(ctx, json.RawMessage(testQuery), nil, "lead\"]}", 3)
			return err
		}, false},
		{"sample with a negative size", func(ctx context.Context, c *Client) error {
			_, err := c.Sample(ctx, json.RawMessage(testQuery), nil, "lead", -1)
			return err
		}, false},
		{"count without a query", func(ctx context.Context, c *Client) error { _, err := c.Count(ctx, nil, nil); return err }, false},
		{"smart views of a bad type", func(ctx context.Context, c *Client) error { _, err := c.SmartViewsOfType(ctx, "lead&x=1"); return err }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, n int, body []byte) { jsonReply(w, 200, okJob) })
			c, _ := testClient(t, f.base(), nil)
			err := tt.call(context.Background(), c)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, ErrInvalidID) != tt.invalid {
				t.Errorf("errors.Is(%v, ErrInvalidID) = %v", err, !tt.invalid)
			}
			if IsAmbiguous(err) {
				t.Errorf("refused input reported as ambiguous: %v", err)
			}
			if n := f.count(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
}

func TestValidateIDs(t *testing.T) {
	tests := []struct {
		id          string
		job, view   bool
		wantInError string
	}{
		{"bulkdelete_asdVYCm54A0El829k39e7nIvlCSDDhVLuyb8aspGSET", true, false, ""},
		{"save_aBc123", false, true, ""},
		{"bulkdelete_", false, false, "an id starting with \"bulkdelete_\""},
		{"lead_abc", false, false, "an id starting with \"lead_\""},
		{"../x", false, false, "a 4-character value that is not an id"},
		{"", false, false, "an empty value"},
		{"bulkdelete_a-b", false, false, ""},
		{"BULKDELETE_abc", false, false, ""},
		{"bulkdelete_abc\n", false, false, ""},
		{"bulkdelete_" + strings.Repeat("a", 200), false, false, ""},
	}
	for _, tt := range tests {
		jerr, verr := ValidateBulkDeleteID(tt.id), ValidateSmartViewID(tt.id)
		if (jerr == nil) != tt.job || (verr == nil) != tt.view {
			t.Errorf("%q: job %v view %v", tt.id, jerr, verr)
		}
		for _, err := range []error{jerr, verr} {
			if err != nil && !errors.Is(err, ErrInvalidID) {
				t.Errorf("%q: %v does not wrap ErrInvalidID", tt.id, err)
			}
		}
		if jerr != nil && tt.wantInError != "" && !strings.Contains(jerr.Error(), tt.wantInError) {
			t.Errorf("%q: %v lacks %q", tt.id, jerr, tt.wantInError)
		}
	}
}

// TestRedactSecrets: every form of the credential goes, in any letter
// case, and nothing else changes.
func TestRedactSecrets(t *testing.T) {
	secrets := []string{"sk_Key123", "c2tfS2V5MTIzOg=="}
	tests := []struct{ in, want string }{
		{"key sk_Key123 here", "key [redacted] here"},
		{"SK_KEY123 and sk_key123", "[redacted] and [redacted]"},
		{"basic C2TFS2V5MTIZOG==", "basic [redacted]"},
		{"nothing secret, é and İ kept", "nothing secret, é and İ kept"},
		{"sk_Key12", "sk_Key12"},
	}
	for _, tc := range tests {
		if got := redactSecrets(tc.in, secrets); got != tc.want {
			t.Errorf("redactSecrets(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
