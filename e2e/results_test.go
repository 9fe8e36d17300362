package e2e

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"
	"testing"
	"time"
)

// The structured results of bulkguard's tools, as issue 4 names them. They
// are decoded strictly (unknown fields fail the test), so a field that
// appears, disappears or changes type is noticed here, by a client that
// shares no code with the server.

type sampleItem struct {
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	Status      string `json:"status"`
	DateCreated string `json:"date_created"`
	LeadID      string `json:"lead_id"`
}

type refusalOut struct {
	Code    string `json:"code"`
	Pointer string `json:"pointer"`
	Problem string `json:"problem"`
	Next    string `json:"next"`
}

type previewResult struct {
	PlanID             string       `json:"plan_id"`
	Environment        string       `json:"environment"`
	ObjectType         string       `json:"object_type"`
	Total              int          `json:"total"`
	WillDelete         int          `json:"will_delete"`
	OrgTotal           int          `json:"org_total"`
	Share              string       `json:"share"`
	ResultsLimit       *int         `json:"results_limit"`
	Summary            string       `json:"summary"`
	Sample             []sampleItem `json:"sample"`
	Warnings           []string     `json:"warnings"`
	Executable         bool         `json:"executable"`
	Refusal            *refusalOut  `json:"refusal"`
	ConfirmationPhrase string       `json:"confirmation_phrase"`
	ExpiresAt          *time.Time   `json:"expires_at"`
	NextStep           string       `json:"next_step"`
}

// job is Close's BulkDeleteAction (docs/close-api.md §1.3): 17 properties, all
// present, the nullable ones as pointers.
type job struct {
	ID                string          `json:"id"`
	BulkObjectType    string          `json:"bulk_object_type"`
	Status            *string         `json:"status"`
	SQuery            json.RawMessage `json:"s_query"`
	Query             *string         `json:"query"`
	ResultsLimit      *int            `json:"results_limit"`
	Sort              json.RawMessage `json:"sort"`
	SendDoneEmail     bool            `json:"send_done_email"`
	NLeads            *int            `json:"n_leads"`
	NLeadsProcessed   int             `json:"n_leads_processed"`
	NObjects          *int            `json:"n_objects"`
	NObjectsProcessed int             `json:"n_objects_processed"`
	OrganizationID    string          `json:"organization_id"`
	CreatedBy         *string         `json:"created_by"`
	UpdatedBy         *string         `json:"updated_by"`
	DateCreated       *string         `json:"date_created"`
	DateUpdated       *string         `json:"date_updated"`
}

var jobKeys = []string{"bulk_object_type", "created_by", "date_created", "date_updated", "id", "n_leads",
	"n_leads_processed", "n_objects", "n_objects_processed", "organization_id", "query", "results_limit",
	"s_query", "send_done_email", "sort", "status", "updated_by"}

func (j *job) status() string {
	if j.Status == nil {
		return ""
	}
	return *j.Status
}

type receiptOut struct {
	PlanID           string `json:"plan_id"`
	Previewed        int    `json:"previewed"`
	Recounted        int    `json:"recounted"`
	ResultsLimitSent int    `json:"results_limit_sent"`
	ConfirmedBy      string `json:"confirmed_by"`
	AuditID          string `json:"audit_id"`
	IDsChecked       int    `json:"ids_checked"`
	Reconciled       bool   `json:"reconciled"`
	// Backup is the verified backup taken before the delete (--backup required).
	Backup *backupOut `json:"backup"`
}

type backupOut struct {
	ID     string         `json:"id"`
	Path   string         `json:"path"`
	SHA256 string         `json:"sha256"`
	Bytes  int64          `json:"bytes"`
	Counts map[string]int `json:"counts"`
}

type createResult struct {
	Environment string          `json:"environment"`
	Job         json.RawMessage `json:"job"`
	Receipt     receiptOut      `json:"receipt"`
	NextStep    string          `json:"next_step"`
}

type progressOut struct {
	Processed int      `json:"processed"`
	Total     *int     `json:"total"`
	Percent   *float64 `json:"percent"`
	Terminal  bool     `json:"terminal"`
}

type jobResult struct {
	Environment string          `json:"environment"`
	Job         json.RawMessage `json:"job"`
	Progress    progressOut     `json:"progress"`
	NextStep    string          `json:"next_step"`
}

type listResult struct {
	Environment string            `json:"environment"`
	Jobs        []json.RawMessage `json:"jobs"`
	HasMore     bool              `json:"has_more"`
	NextSkip    *int              `json:"next_skip"`
	Scanned     int               `json:"scanned"`
}

type lookupItem struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Choices []string `json:"choices"`
	Email   string   `json:"email"`
}

type lookupResult struct {
	Environment string       `json:"environment"`
	Kind        string       `json:"kind"`
	Items       []lookupItem `json:"items"`
	Truncated   bool         `json:"truncated"`
}

// decodeStrict decodes b into v and fails on unknown fields or trailing data.
func decodeStrict(t *testing.T, what string, b []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v\n%s", what, err, b)
	}
	if dec.More() {
		t.Fatalf("%s: trailing data\n%s", what, b)
	}
}

// decodeJob checks that raw is a complete BulkDeleteAction (exactly the 17
// keys Close returns) and decodes it.
func decodeJob(t *testing.T, raw json.RawMessage) job {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("job: %v\n%s", err, raw)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if !slices.Equal(keys, jobKeys) {
		t.Errorf("job keys = %v, want Close's %v", keys, jobKeys)
	}
	var j job
	decodeStrict(t, "job", raw, &j)
	return j
}
