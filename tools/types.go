package tools

import (
	"encoding/json"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// Argument structs. They are the single source of the input schemas
// (reflected with invopop/jsonschema) and of decoding, so the schema a model
// reads and what the server accepts cannot drift apart. Descriptions are
// short: the whole tools/list payload has a size budget (schema_test.go).

// previewArgs are preview_bulk_delete's arguments.
type previewArgs struct {
	SQuery        queryArg `json:"s_query,omitempty" jsonschema_description:"Close structured query (an and starting with an object_type) or a Smart View's Copy Filters JSON."`
	SmartViewID   string   `json:"smart_view_id,omitempty" jsonschema_description:"Instead of s_query: delete a Smart View's matches."`
	Sort          sortArg  `json:"sort,omitempty"`
	ResultsLimit  *int     `json:"results_limit,omitempty" jsonschema:"minimum=1"`
	SendDoneEmail *bool    `json:"send_done_email,omitempty"`
	SampleSize    *int     `json:"sample_size,omitempty" jsonschema:"minimum=0,maximum=50"`
}

// queryArg is the raw s_query argument. Its schema is the grammar (see
// schemaMapper); decoding is schema.Decode's.
type queryArg json.RawMessage

// sortArg is the raw sort argument, decoded by schema.DecodeSort.
type sortArg json.RawMessage

func (q *queryArg) UnmarshalJSON(b []byte) error {
	*q = append((*q)[:0], b...)
	return nil
}

func (s *sortArg) UnmarshalJSON(b []byte) error {
	*s = append((*s)[:0], b...)
	return nil
}

// createArgs are create_bulk_delete's arguments.
type createArgs struct {
	PlanID  string `json:"plan_id" jsonschema:"required"`
	Confirm string `json:"confirm,omitempty" jsonschema_description:"Only without a form or page: what the person typed."`
}

// listArgs are list_bulk_deletes' arguments.
type listArgs struct {
	Limit      *int         `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100"`
	Skip       *int         `json:"skip,omitempty" jsonschema:"minimum=0"`
	Status     jobStatusArg `json:"status,omitempty"`
	ObjectType string       `json:"object_type,omitempty"`
}

// jobStatusArg is a job status; its schema's enum is guards.JobStatuses
// (see schemaMapper), so the list lives in one place.
type jobStatusArg string

// idArgs are get_bulk_delete's and pause_bulk_delete's arguments.
type idArgs struct {
	ID string `json:"id" jsonschema:"required"`
}

// resumeArgs are resume_bulk_delete's arguments.
type resumeArgs struct {
	ID      string `json:"id" jsonschema:"required"`
	Confirm string `json:"confirm,omitempty" jsonschema_description:"Only without a form: what the person typed."`
}

// lookupKindArg is a kind of id; its schema's enum is guards.LookupKinds
// (see schemaMapper).
type lookupKindArg string

// lookupArgs are lookup_close_ids' arguments.
type lookupArgs struct {
	Kind lookupKindArg `json:"kind" jsonschema:"required"`
	Name string        `json:"name,omitempty"`
}

// Result structs: the structuredContent of successful calls and the source
// of the output schemas, which require the fields tagged required (the ones
// a client can rely on). Nothing in them is ever JSON null (nullable values
// are omitted instead).

type previewResult struct {
	PlanID             string                `json:"plan_id,omitempty"`
	Environment        string                `json:"environment" jsonschema:"required"`
	ObjectType         string                `json:"object_type"`
	Total              int                   `json:"total" jsonschema:"required"`
	WillDelete         int                   `json:"will_delete"`
	OrgTotal           int                   `json:"org_total"`
	Share              string                `json:"share,omitempty"`
	ResultsLimit       *int                  `json:"results_limit,omitempty"`
	Summary            string                `json:"summary" jsonschema:"required"`
	Sample             []closeapi.SampleItem `json:"sample" jsonschema:"required"`
	Warnings           []string              `json:"warnings,omitempty"`
	Executable         bool                  `json:"executable" jsonschema:"required"`
	Refusal            *guards.Refusal       `json:"refusal,omitempty"`
	ConfirmationPhrase string                `json:"confirmation_phrase,omitempty"`
	ExpiresAt          *time.Time            `json:"expires_at,omitempty"`
	NextStep           string                `json:"next_step" jsonschema:"required"`
}

type createResult struct {
	Environment string               `json:"environment" jsonschema:"required"`
	Job         *closeapi.BulkDelete `json:"job" jsonschema:"required"`
	Receipt     guards.Receipt       `json:"receipt" jsonschema:"required"`
	NextStep    string               `json:"next_step" jsonschema:"required"`
}

type listResult struct {
	Environment string                `json:"environment" jsonschema:"required"`
	Jobs        []closeapi.BulkDelete `json:"jobs" jsonschema:"required"`
	HasMore     bool                  `json:"has_more"`
	NextSkip    *int                  `json:"next_skip,omitempty"`
	// Scanned counts the jobs read from Close when a filter was applied.
	Scanned int `json:"scanned,omitempty"`
}

// jobResult is the answer of get, pause and resume.
type jobResult struct {
	Environment string               `json:"environment" jsonschema:"required"`
	Job         *closeapi.BulkDelete `json:"job" jsonschema:"required"`
	Progress    progressOut          `json:"progress" jsonschema:"required"`
	NextStep    string               `json:"next_step" jsonschema:"required"`
}

type progressOut struct {
	Processed int      `json:"processed"`
	Total     *int     `json:"total,omitempty"`
	Percent   *float64 `json:"percent,omitempty"`
	Terminal  bool     `json:"terminal"`
}

type lookupResult struct {
	Environment string              `json:"environment" jsonschema:"required"`
	Kind        string              `json:"kind"`
	Items       []guards.LookupItem `json:"items" jsonschema:"required"`
	Truncated   bool                `json:"truncated,omitempty"`
}
