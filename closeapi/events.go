package closeapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// The event log (GET /event/, docs/close-backup.md §4): what changed in the last 30 days,
// newest first, paged by `_cursor` in the query string with `cursor_next` in the answer
// (docs/close-api.md §4.5). Deleted objects' events carry the object as it was in
// `previous_data` (for non-admins only for one hour), and a bulk delete's events carry its job
// id in `meta.bulk_action_id` [OFF-CODE: Close's run_leads_deleted_report.py reads it there].

const (
	eventPath = "/event/"
	// eventPageMax is the documented cap and default of _limit on /event/.
	eventPageMax = 50
	// maxEventPages stops a server that always returns a cursor.
	maxEventPages = 100_000
)

// EventQuery filters GET /event/. Close accepts only some combinations of filters (for
// example object_type with action, or lead_id with object_type and action); an unsupported
// combination answers 400.
type EventQuery struct {
	ObjectType string
	ObjectID   string
	Action     string
	LeadID     string
	UserID     string
	RequestID  string
	// Since and Until filter date_updated (date_updated__gte, date_updated__lte) when set.
	Since, Until time.Time
	// Limit is the page size; 0 or above 50 means 50.
	Limit int
}

func (q EventQuery) values(cursor string) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("object_type", q.ObjectType)
	set("object_id", q.ObjectID)
	set("action", q.Action)
	set("lead_id", q.LeadID)
	set("user_id", q.UserID)
	set("request_id", q.RequestID)
	if !q.Since.IsZero() {
		v.Set("date_updated__gte", q.Since.UTC().Format(closeTimeLayout))
	}
	if !q.Until.IsZero() {
		v.Set("date_updated__lte", q.Until.UTC().Format(closeTimeLayout))
	}
	limit := q.Limit
	if limit <= 0 || limit > eventPageMax {
		limit = eventPageMax
	}
	v.Set("_limit", strconv.Itoa(limit))
	set("_cursor", cursor)
	return v
}

// Event is one entry of the event log. Data and PreviousData are the object after and before
// the change, as Close sent them (null or absent become nil).
type Event struct {
	ID             string          `json:"id"`
	Action         string          `json:"action"`
	ObjectType     string          `json:"object_type"`
	ObjectID       string          `json:"object_id"`
	LeadID         *string         `json:"lead_id"`
	UserID         *string         `json:"user_id"`
	RequestID      *string         `json:"request_id"`
	OrganizationID string          `json:"organization_id"`
	ChangedFields  []string        `json:"changed_fields"`
	Meta           map[string]any  `json:"meta"`
	Data           json.RawMessage `json:"data"`
	PreviousData   json.RawMessage `json:"previous_data"`
	DateCreated    *Time           `json:"date_created"`
	DateUpdated    *Time           `json:"date_updated"`
}

// BulkActionID is meta.bulk_action_id, or "".
func (e *Event) BulkActionID() string {
	s, _ := e.Meta["bulk_action_id"].(string)
	return s
}

// EventPage is one page of GET /event/. CursorNext is nil or "" on the last page.
type EventPage struct {
	Data           []Event `json:"data"`
	CursorNext     *string `json:"cursor_next"`
	CursorPrevious *string `json:"cursor_previous"`
}

// Events reads one page of the event log.
func (c *Client) Events(ctx context.Context, q EventQuery, cursor string) (*EventPage, error) {
	var out EventPage
	if err := c.do(ctx, call{method: http.MethodGet, path: eventPath, query: q.values(cursor), retry: true}, &out); err != nil {
		return nil, err
	}
	for i := range out.Data {
		out.Data[i].Data = nullToNil(out.Data[i].Data)
		out.Data[i].PreviousData = nullToNil(out.Data[i].PreviousData)
	}
	return &out, nil
}

// EachEvent reads the event log page by page, newest first, and calls fn for every event until
// fn returns false, an error, or the log ends.
func (c *Client) EachEvent(ctx context.Context, q EventQuery, fn func(Event) (bool, error)) error {
	cursor := ""
	for n := 0; n < maxEventPages; n++ {
		p, err := c.Events(ctx, q, cursor)
		if err != nil {
			return err
		}
		for _, e := range p.Data {
			more, err := fn(e)
			if err != nil || !more {
				return err
			}
		}
		if p.CursorNext == nil || *p.CursorNext == "" || len(p.Data) == 0 {
			return nil
		}
		if *p.CursorNext == cursor {
			return fmt.Errorf("closeapi: GET %s: the cursor did not advance", eventPath)
		}
		cursor = *p.CursorNext
	}
	return fmt.Errorf("closeapi: GET %s: more than %d pages; stopped", eventPath, maxEventPages)
}
