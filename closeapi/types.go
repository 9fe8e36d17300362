package closeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Time is a Close timestamp. Close writes ISO-8601 with microseconds and an offset
// ("2015-03-16T00:19:50.141000+00:00"), but some documented examples omit the offset
// ("2021-05-24T13:20:57.060848"); such values are read as UTC (docs/close-api.md §4.8). JSON null
// decodes to the zero Time and the zero Time encodes as null.
type Time struct{ time.Time }

// closeTimeLayout is how Close writes timestamps: microseconds and a numeric offset ("+00:00",
// never "Z").
const closeTimeLayout = "2006-01-02T15:04:05.000000-07:00"

// Layouts tried in order when parsing; fractional seconds are optional in each.
var timeLayouts = []struct {
	layout string
	utc    bool
}{
	{time.RFC3339Nano, false},
	{"2006-01-02T15:04:05.999999999", true},
	{"2006-01-02 15:04:05.999999999Z07:00", false},
	{"2006-01-02 15:04:05.999999999", true},
}

// ParseTime parses a Close timestamp in any of the forms described on Time.
func ParseTime(s string) (Time, error) {
	for _, l := range timeLayouts {
		var t time.Time
		var err error
		if l.utc {
			t, err = time.ParseInLocation(l.layout, s, time.UTC)
		} else {
			t, err = time.Parse(l.layout, s)
		}
		if err == nil {
			return Time{t}, nil
		}
	}
	return Time{}, fmt.Errorf("closeapi: cannot parse time %q", s)
}

func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*t = Time{}
		return nil
	}
	var s string
	if n := len(b); n >= 2 && b[0] == '"' && b[n-1] == '"' && bytes.IndexByte(b, '\\') < 0 {
		// The usual case (Close never escapes a timestamp): no second JSON pass.
		s = string(b[1 : n-1])
	} else if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("closeapi: time must be a string or null, got %s", b)
	}
	if s == "" {
		*t = Time{}
		return nil
	}
	p, err := ParseTime(s)
	if err != nil {
		return err
	}
	*t = p
	return nil
}

func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	// The layout's output never needs escaping, so the quotes are all json.Marshal would add.
	b := make([]byte, 0, len(closeTimeLayout)+2)
	b = append(b, '"')
	b = t.AppendFormat(b, closeTimeLayout)
	return append(b, '"'), nil
}

// BulkDeleteRequest is the body of POST /bulk_action/delete/ (docs/close-api.md §1.2). SQuery is the
// bare query node, not the Smart View wrapper. A nil ResultsLimit is sent as null (no cap).
type BulkDeleteRequest struct {
	SQuery        json.RawMessage `json:"s_query"`
	ResultsLimit  *int            `json:"results_limit"`
	Sort          json.RawMessage `json:"sort,omitempty"`
	SendDoneEmail *bool           `json:"send_done_email,omitempty"`
}

// BulkDelete is Close's BulkDeleteAction (docs/close-api.md §1.3): all 17 properties, each always
// present in Close's answers; the nullable ones are pointers here.
type BulkDelete struct {
	ID             string `json:"id"`
	BulkObjectType string `json:"bulk_object_type"` // lead, contact, call, custom_activity, form_submission
	// Status is created, loading, processing, done, paused, resuming or error; null is allowed
	// by the schema. Values outside the enum are kept as sent.
	Status *string `json:"status"`
	// SQuery is the echo of the structured query (bare node). nil when Close sent null.
	SQuery json.RawMessage `json:"s_query"`
	// Query is a legacy string search, informational only.
	Query             *string         `json:"query"`
	ResultsLimit      *int            `json:"results_limit"`
	Sort              json.RawMessage `json:"sort"` // [] when none
	SendDoneEmail     bool            `json:"send_done_email"`
	NLeads            *int            `json:"n_leads"` // null until matching finishes
	NLeadsProcessed   int             `json:"n_leads_processed"`
	NObjects          *int            `json:"n_objects"` // null until matching finishes
	NObjectsProcessed int             `json:"n_objects_processed"`
	OrganizationID    string          `json:"organization_id"`
	CreatedBy         *string         `json:"created_by"`
	UpdatedBy         *string         `json:"updated_by"`
	DateCreated       *Time           `json:"date_created"`
	DateUpdated       *Time           `json:"date_updated"`
}

// StatusString is Status, or "" when Close sent null.
func (b *BulkDelete) StatusString() string {
	if b == nil || b.Status == nil {
		return ""
	}
	return *b.Status
}

func (b *BulkDelete) UnmarshalJSON(data []byte) error {
	var w bulkDeleteWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	*b = *w.job()
	return nil
}

// bulkDeleteWire is BulkDelete without its UnmarshalJSON. The client decodes answers into it:
// encoding/json hands a value with an UnmarshalJSON method its raw bytes, which that method
// must scan and decode again, so a job read through the method costs two passes instead of one.
type bulkDeleteWire BulkDelete

// job is the decoded job with JSON nulls in its raw fields turned into nil.
func (w *bulkDeleteWire) job() *BulkDelete {
	b := (*BulkDelete)(w)
	b.SQuery = nullToNil(b.SQuery)
	b.Sort = nullToNil(b.Sort)
	return b
}

// BulkDeleteList is one page of GET /bulk_action/delete/.
type BulkDeleteList struct {
	Data    []BulkDelete `json:"data"`
	HasMore bool         `json:"has_more"`
}

// bulkDeleteListWire is how the client decodes a BulkDeleteList: in one pass (bulkDeleteWire).
type bulkDeleteListWire struct {
	Data    []bulkDeleteWire `json:"data"`
	HasMore bool             `json:"has_more"`
}

func (w *bulkDeleteListWire) list() *BulkDeleteList {
	l := &BulkDeleteList{Data: make([]BulkDelete, len(w.Data)), HasMore: w.HasMore}
	for i := range w.Data {
		l.Data[i] = *w.Data[i].job()
	}
	return l
}

// SearchRequest is the body of POST /data/search/ (docs/close-api.md §2.1). A nil ResultsLimit is
// sent as null (no cap).
type SearchRequest struct {
	Query         json.RawMessage     `json:"query"`
	Sort          json.RawMessage     `json:"sort,omitempty"`
	ResultsLimit  *int                `json:"results_limit"`
	Limit         int                 `json:"_limit,omitempty"`
	Cursor        *string             `json:"cursor,omitempty"`
	IncludeCounts bool                `json:"include_counts,omitempty"`
	Fields        map[string][]string `json:"_fields,omitempty"`
}

// SearchResponse is one page of /data/search/ results. Cursor is nil on the last page; Count
// is present only when the request set include_counts.
type SearchResponse struct {
	Data   []map[string]any `json:"data"`
	Cursor *string          `json:"cursor"`
	Count  *Count           `json:"count,omitempty"`
}

// Count is the count object of /data/search/: Total is every match, Limited the number left
// after results_limit (0 for a count-only call with results_limit 0) [INF: docs/close-api.md §2.2].
type Count struct {
	Total   int `json:"total"`
	Limited int `json:"limited"`
}

// SampleItem is one matched object shown to the person confirming a delete.
type SampleItem struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	// Status (leads), DateCreated (as Close writes it) and LeadID (contacts: the lead the
	// contact belongs to) are empty when Close did not return them.
	Status      string `json:"status,omitempty"`
	DateCreated string `json:"date_created,omitempty"`
	LeadID      string `json:"lead_id,omitempty"`
}

// LeadStatus is one entry of GET /status/lead/.
type LeadStatus struct {
	ID    string `json:"id"`
	Label string `json:"label"`
}

// CustomField is one entry of GET /custom_field/lead/. Choices is nil unless the field is a
// choices field.
type CustomField struct {
	ID                    string   `json:"id"`
	Name                  string   `json:"name"`
	Type                  string   `json:"type"`
	Description           *string  `json:"description,omitempty"`
	Choices               []string `json:"choices"`
	AcceptsMultipleValues bool     `json:"accepts_multiple_values"`
}

// SmartView is Close's SavedSearch (docs/close-api.md §5.2). Its SQuery is the wrapper
// {"query": node, "results_limit": …, "sort": […]}, not a bare node, and is nil for legacy
// views that only have a string Query.
type SmartView struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Type            string          `json:"type"` // lead, contact, opportunity, …
	SQuery          json.RawMessage `json:"s_query"`
	Query           *string         `json:"query"`
	IsShared        bool            `json:"is_shared"`
	IsUserDependent *bool           `json:"is_user_dependent"`
	OrganizationID  string          `json:"organization_id"`
	UserID          *string         `json:"user_id"`
	Description     *string         `json:"description"`
	DateCreated     *Time           `json:"date_created"`
	DateUpdated     *Time           `json:"date_updated"`
}

func (v *SmartView) UnmarshalJSON(data []byte) error {
	type plain SmartView
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return err
	}
	p.SQuery = nullToNil(p.SQuery)
	*v = SmartView(p)
	return nil
}

// User is a Close user from GET /user/ or GET /me/. OrganizationIDs is read from
// "organizations", which /user/ sends as a list of ids and /me/ as a list of organization
// objects, and from "organization_id" when present.
type User struct {
	ID              string   `json:"id"`
	FirstName       string   `json:"first_name"`
	LastName        string   `json:"last_name"`
	Email           string   `json:"email"`
	DisplayName     string   `json:"display_name"` // filled from the names or email when Close omits it
	OrganizationIDs []string `json:"organization_ids"`
}

func (u *User) UnmarshalJSON(data []byte) error {
	var raw struct {
		ID             string            `json:"id"`
		FirstName      *string           `json:"first_name"`
		LastName       *string           `json:"last_name"`
		Email          *string           `json:"email"`
		DisplayName    *string           `json:"display_name"`
		OrganizationID *string           `json:"organization_id"`
		Organizations  []json.RawMessage `json:"organizations"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*u = User{ID: raw.ID, FirstName: deref(raw.FirstName), LastName: deref(raw.LastName),
		Email: deref(raw.Email), DisplayName: deref(raw.DisplayName)}
	seen := map[string]bool{}
	add := func(id string) {
		if id != "" && !seen[id] {
			seen[id] = true
			u.OrganizationIDs = append(u.OrganizationIDs, id)
		}
	}
	add(deref(raw.OrganizationID))
	for _, o := range raw.Organizations {
		var id string
		if json.Unmarshal(o, &id) == nil {
			add(id)
			continue
		}
		var obj struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(o, &obj) == nil {
			add(obj.ID)
		}
	}
	if u.DisplayName == "" {
		u.DisplayName = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	if u.DisplayName == "" {
		u.DisplayName = u.Email
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullToNil turns a JSON null kept in a RawMessage into nil so callers test len()==0 only.
func nullToNil(m json.RawMessage) json.RawMessage {
	if bytes.Equal(bytes.TrimSpace(m), []byte("null")) {
		return nil
	}
	return m
}
