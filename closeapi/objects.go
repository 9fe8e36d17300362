package closeapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
)

// Creating the objects a restore brings back, and listing them per lead (docs/close-backup.md
// §3). A lead is posted with its contacts and addresses nested; opportunities, tasks and
// activities are posted separately with the new lead's id [DOC leads: "Contacts, addresses,
// and custom fields can all be nested in the lead. Currently, activities, tasks, and
// opportunities must be posted separately"].

// Kind is an object a restore can create.
type Kind string

// The kinds a restore creates, each with its create endpoint.
const (
	KindLead        Kind = "lead"
	KindContact     Kind = "contact"
	KindOpportunity Kind = "opportunity"
	KindTask        Kind = "task"
	KindNote        Kind = "note"
	KindCall        Kind = "call"
	KindSMS         Kind = "sms"
	KindMeeting     Kind = "meeting"
)

// Kinds lists every Kind in the order a restore creates them: a lead (with its contacts)
// first, because every other object names the lead and opportunities and activities may name
// a contact.
var Kinds = []Kind{KindLead, KindContact, KindOpportunity, KindTask, KindNote, KindCall, KindSMS, KindMeeting}

var kindPaths = map[Kind]string{
	KindLead:        "/lead/",
	KindContact:     "/contact/",
	KindOpportunity: "/opportunity/",
	KindTask:        "/task/",
	KindNote:        "/activity/note/",
	KindCall:        "/activity/call/",
	KindSMS:         "/activity/sms/",
	KindMeeting:     "/activity/meeting/",
}

// Path is the create and list endpoint of k, below the API root.
func (k Kind) Path() string { return kindPaths[k] }

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool { _, ok := kindPaths[k]; return ok }

// maxCreateAttempts bounds how often one create is sent again after an answer saying it was
// not processed.
const maxCreateAttempts = 6

// Create posts one object and returns Close's answer (the new object, with its id and, for
// a lead, its nested contacts in the order they were sent).
//
// A create is sent again only after an answer that says it was not processed: 429 (a 429 means
// the request was not handled, docs/close-api.md §4.4) and 503; the wait is the one Close asks
// for, else a short backoff, within the client's retry budget. Any other failure is returned at
// once. When IsAmbiguous(err) is true the object may exist; the caller must look for it before
// posting again.
func (c *Client) Create(ctx context.Context, k Kind, body map[string]any) (map[string]any, error) {
	path, ok := kindPaths[k]
	if !ok {
		return nil, fmt.Errorf("closeapi: create: unknown object kind %q", k)
	}
	var waited int64
	for attempt := 1; ; attempt++ {
		var out map[string]any
		err := c.do(ctx, call{method: http.MethodPost, path: path, body: body}, &out)
		if err == nil {
			if id, _ := out["id"].(string); id == "" {
				return nil, &TransportError{Method: http.MethodPost, Path: path, Sent: true, Attempts: attempt,
					Err: errors.New("the answer has no id"), msg: "the answer has no id"}
			}
			return out, nil
		}
		var ae *APIError
		if !errors.As(err, &ae) || (ae.StatusCode != http.StatusTooManyRequests && ae.StatusCode != http.StatusServiceUnavailable) || attempt >= maxCreateAttempts {
			return nil, err
		}
		wait := ae.RetryAfter
		if wait <= 0 {
			wait = c.backoff(attempt)
		}
		if waited+int64(wait) > int64(c.budget) {
			return nil, err
		}
		if serr := c.sleep(ctx, wait); serr != nil {
			return nil, fmt.Errorf("closeapi: POST %s: %w while waiting to retry; last error: %w", path, serr, err)
		}
		waited += int64(wait)
	}
}

var leadIDPattern = regexp.MustCompile(`^lead_[A-Za-z0-9]+$`)

// ValidateLeadID checks that id looks like a lead id: "lead_" followed by letters and digits.
func ValidateLeadID(id string) error {
	return validateID(id, leadIDPattern, "a lead id", "lead_")
}

// GetLead fetches one lead (GET /lead/{id}/) as Close sends it: its contacts, addresses,
// opportunities, tasks and custom fields, not its activities.
func (c *Client) GetLead(ctx context.Context, id string) (map[string]any, error) {
	if err := ValidateLeadID(id); err != nil {
		return nil, err
	}
	var out map[string]any
	if err := c.do(ctx, call{method: http.MethodGet, path: "/lead/" + id + "/", retry: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ListByLead lists the objects of kind k on one lead (GET <path>?lead_id=…, offset-paged,
// docs/close-api.md §4.5). A restore uses it to find out whether a create whose answer was lost
// took effect.
func (c *Client) ListByLead(ctx context.Context, k Kind, leadID string) ([]map[string]any, error) {
	path, ok := kindPaths[k]
	if !ok || k == KindLead {
		return nil, fmt.Errorf("closeapi: list: %q objects are not listed by lead", k)
	}
	if err := ValidateLeadID(leadID); err != nil {
		return nil, err
	}
	return listAll[map[string]any](ctx, c, path, url.Values{"lead_id": {leadID}}, false)
}

var objectIDPattern = regexp.MustCompile(`^[a-z]{2,16}_[A-Za-z0-9]+$`)

// Update changes fields of one object (PUT <path>{id}/, a partial update, docs/close-api.md
// §4.6). Sending the same update twice leaves the object as once, so it is retried like a read.
func (c *Client) Update(ctx context.Context, k Kind, id string, body map[string]any) (map[string]any, error) {
	path, ok := kindPaths[k]
	if !ok {
		return nil, fmt.Errorf("closeapi: update: unknown object kind %q", k)
	}
	if len(id) > maxIDLength || !objectIDPattern.MatchString(id) {
		return nil, fmt.Errorf("closeapi: PUT %s: %w: expected an object id such as acti_… or oppo_…", path, ErrInvalidID)
	}
	var out map[string]any
	if err := c.do(ctx, call{method: http.MethodPut, path: path + id + "/", body: body, retry: true}, &out); err != nil {
		return nil, err
	}
	return out, nil
}
