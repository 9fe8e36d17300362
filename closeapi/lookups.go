package closeapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

const (
	leadStatusPath  = "/status/lead/"
	customFieldPath = "/custom_field/lead/"
	smartViewPath   = "/saved_search/"
	userPath        = "/user/"
	mePath          = "/me/"

	pageSize = 100   // Close's default _limit for offset-paged lists
	maxPages = 1_000 // stops a server that always says has_more
)

// page is Close's offset-paged list envelope (docs/close-api.md §4.5).
type page[T any] struct {
	Data    []T  `json:"data"`
	HasMore bool `json:"has_more"`
}

// listAll follows _skip/_limit pages until has_more is false. With plainFirst the first request
// carries no paging parameters, for small endpoints (/status/lead/) that return everything at
// once without has_more [OBS]; paging continues only if they do say has_more.
func listAll[T any](ctx context.Context, c *Client, path string, extra url.Values, plainFirst bool) ([]T, error) {
	all := []T{}
	skip := 0
	for n := 0; n < maxPages; n++ {
		q := url.Values{}
		for k, v := range extra {
			q[k] = v
		}
		if n > 0 || !plainFirst {
			q.Set("_limit", strconv.Itoa(pageSize))
			q.Set("_skip", strconv.Itoa(skip))
		}
		var p page[T]
		if err := c.do(ctx, call{method: http.MethodGet, path: path, query: q, retry: true}, &p); err != nil {
			return nil, err
		}
		all = append(all, p.Data...)
		if !p.HasMore {
			return all, nil
		}
		if len(p.Data) == 0 {
			return nil, fmt.Errorf("closeapi: GET %s: has_more is true on an empty page at _skip=%d", path, skip)
		}
		skip += len(p.Data)
	}
	return nil, fmt.Errorf("closeapi: GET %s: more than %d pages; stopped", path, maxPages)
}

// LeadStatuses lists the organization's lead statuses (GET /status/lead/).
func (c *Client) LeadStatuses(ctx context.Context) ([]LeadStatus, error) {
	return listAll[LeadStatus](ctx, c, leadStatusPath, nil, true)
}

// LeadCustomFields lists the lead custom fields (GET /custom_field/lead/, paged).
func (c *Client) LeadCustomFields(ctx context.Context) ([]CustomField, error) {
	return listAll[CustomField](ctx, c, customFieldPath, nil, false)
}

// SmartViews lists the Smart Views Close returns by default, which are the lead views (the
// list's type parameter defaults to lead, docs/close-api.md §5.1), paging with _skip/_limit until
// has_more is false. Use SmartViewsOfType for contact views.
func (c *Client) SmartViews(ctx context.Context) ([]SmartView, error) {
	return listAll[SmartView](ctx, c, smartViewPath, nil, false)
}

// SmartViewsOfType lists the Smart Views of one SavedSearchType (lead, contact, …) with the
// list's documented type parameter.
func (c *Client) SmartViewsOfType(ctx context.Context, typ string) ([]SmartView, error) {
	if !objectTypePattern.MatchString(typ) {
		return nil, fmt.Errorf("closeapi: GET %s: type must be a Smart View type such as lead or contact", smartViewPath)
	}
	return listAll[SmartView](ctx, c, smartViewPath, url.Values{"type": {typ}}, false)
}

// SmartView fetches one Smart View (GET /saved_search/{id}/). id is validated first; a value
// that is not a save_ id is an error wrapping ErrInvalidID and nothing is sent.
func (c *Client) SmartView(ctx context.Context, id string) (*SmartView, error) {
	if err := ValidateSmartViewID(id); err != nil {
		return nil, err
	}
	var out SmartView
	if err := c.do(ctx, call{method: http.MethodGet, path: smartViewPath + id + "/", retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Users lists the users of the organizations the credential belongs to (GET /user/, paged).
func (c *Client) Users(ctx context.Context) ([]User, error) {
	return listAll[User](ctx, c, userPath, nil, false)
}

// Me returns the user the credential belongs to (GET /me/). It is also the cheapest credential
// check: a bad key answers 401 (IsUnauthorized).
func (c *Client) Me(ctx context.Context) (*User, error) {
	var out User
	if err := c.do(ctx, call{method: http.MethodGet, path: mePath, retry: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
