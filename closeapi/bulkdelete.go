package closeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
)

const bulkDeletePath = "/bulk_action/delete/"

var (
	bulkDeleteIDPattern = regexp.MustCompile(`^bulkdelete_[A-Za-z0-9]+$`)
	smartViewIDPattern  = regexp.MustCompile(`^save_[A-Za-z0-9]+$`)
	idPrefixPattern     = regexp.MustCompile(`^[a-z]{1,16}_`)
)

// maxIDLength keeps absurd values out of URLs; Close ids are around 60 characters.
const maxIDLength = 128

// ValidateBulkDeleteID checks that id looks like a bulk delete job id: "bulkdelete_" followed by
// letters and digits. The prefix is a sanity check (docs/close-api.md §4.7), not a format contract.
func ValidateBulkDeleteID(id string) error {
	return validateID(id, bulkDeleteIDPattern, "a bulk delete job id", "bulkdelete_")
}

// ValidateSmartViewID checks that id looks like a Smart View id: "save_" followed by letters
// and digits.
func ValidateSmartViewID(id string) error {
	return validateID(id, smartViewIDPattern, "a Smart View id", "save_")
}

func validateID(id string, re *regexp.Regexp, what, prefix string) error {
	if len(id) <= maxIDLength && re.MatchString(id) {
		return nil
	}
	// The value itself is not quoted: a caller could pass anything here, even a credential.
	// Naming its prefix is enough to explain the usual mistake (a lead id given as a job id).
	got := "an empty value"
	switch {
	case id == "":
	case idPrefixPattern.MatchString(id):
		got = fmt.Sprintf("an id starting with %q", idPrefixPattern.FindString(id))
	default:
		got = fmt.Sprintf("a %d-character value that is not an id", len(id))
	}
	return fmt.Errorf("closeapi: %w: expected %s (%s followed by letters and digits), got %s", ErrInvalidID, what, prefix, got)
}

// CreateBulkDelete starts a bulk delete job (POST /bulk_action/delete/). It is never retried
// automatically, not even on 429 or 503: a repeated create could start a second delete. When
// IsAmbiguous(err) is true the job may exist; look for it (ListBulkDeletes) before trying again.
func (c *Client) CreateBulkDelete(ctx context.Context, r BulkDeleteRequest) (*BulkDelete, error) {
	if err := checkJSONObject(r.SQuery, "s_query"); err != nil {
		return nil, fmt.Errorf("closeapi: POST %s: %w", bulkDeletePath, err)
	}
	r.Sort = nullToNil(r.Sort)
	if err := checkJSONArray(r.Sort, "sort"); err != nil {
		return nil, fmt.Errorf("closeapi: POST %s: %w", bulkDeletePath, err)
	}
	if r.ResultsLimit != nil && *r.ResultsLimit < 0 {
		return nil, fmt.Errorf("closeapi: POST %s: results_limit must not be negative", bulkDeletePath)
	}
	var out bulkDeleteWire
	if err := c.do(ctx, call{method: http.MethodPost, path: bulkDeletePath, body: r}, &out); err != nil {
		return nil, err
	}
	return out.job(), nil
}

// ListBulkDeletes returns one page of bulk delete jobs (GET /bulk_action/delete/ with _limit and
// _skip). limit 0 leaves the page size to Close (100).
func (c *Client) ListBulkDeletes(ctx context.Context, limit, skip int) (*BulkDeleteList, error) {
	if limit < 0 || skip < 0 {
		return nil, fmt.Errorf("closeapi: GET %s: limit and skip must not be negative", bulkDeletePath)
	}
	q := url.Values{}
	if limit > 0 {
		q.Set("_limit", strconv.Itoa(limit))
	}
	q.Set("_skip", strconv.Itoa(skip))
	var out bulkDeleteListWire
	if err := c.do(ctx, call{method: http.MethodGet, path: bulkDeletePath, query: q, retry: true}, &out); err != nil {
		return nil, err
	}
	return out.list(), nil
}

// GetBulkDelete fetches one job (GET /bulk_action/delete/{id}/). id is validated first; an id
// that is not a bulk delete id is an error wrapping ErrInvalidID and nothing is sent.
func (c *Client) GetBulkDelete(ctx context.Context, id string) (*BulkDelete, error) {
	if err := ValidateBulkDeleteID(id); err != nil {
		return nil, err
	}
	var out bulkDeleteWire
	if err := c.do(ctx, call{method: http.MethodGet, path: bulkDeletePath + id + "/", retry: true}, &out); err != nil {
		return nil, err
	}
	return out.job(), nil
}

// Bulk delete status values a client may set.
const (
	StatusPaused   = "paused"
	StatusResuming = "resuming"
)

// SetBulkDeleteStatus pauses ("paused") or resumes ("resuming") a job with
// PUT /bulk_action/delete/{id}/ and body {"status": …}.
//
// The endpoint and method are INFERRED (docs/close-api.md §1.4, [INF]): Close documents only the
// body and the 7-day limit on resuming; its OpenAPI has no update operation on bulk actions, and
// PUT /<resource>/{id}/ is how every other Close resource is updated. A 404 or 405 here may
// mean the guess is wrong rather than that the job is missing.
//
// Like the create, it is never retried automatically.
func (c *Client) SetBulkDeleteStatus(ctx context.Context, id, status string) (*BulkDelete, error) {
	if err := ValidateBulkDeleteID(id); err != nil {
		return nil, err
	}
	if status != StatusPaused && status != StatusResuming {
		return nil, fmt.Errorf("closeapi: PUT %s%s/: status must be %q or %q", bulkDeletePath, id, StatusPaused, StatusResuming)
	}
	body := struct {
		Status string `json:"status"`
	}{status}
	var out bulkDeleteWire
	if err := c.do(ctx, call{method: http.MethodPut, path: bulkDeletePath + id + "/", body: body}, &out); err != nil {
		return nil, err
	}
	return out.job(), nil
}

func checkJSONObject(m json.RawMessage, name string) error {
	t := bytes.TrimSpace(m)
	if len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return fmt.Errorf("%s is required", name)
	}
	if t[0] != '{' || !json.Valid(t) {
		return errors.New(name + " must be a JSON object")
	}
	return nil
}

func checkJSONArray(m json.RawMessage, name string) error {
	t := bytes.TrimSpace(m)
	if len(t) == 0 {
		return nil
	}
	if t[0] != '[' || !json.Valid(t) {
		return errors.New(name + " must be a JSON array")
	}
	return nil
}
