package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/schema"
)

// toolset holds the dependencies the handlers share.
type toolset struct {
	d   Deps
	log *slog.Logger
}

// handlerFunc is a tool handler after the Close client has been chosen. It
// always returns a result: errors the model can act on are isError results.
type handlerFunc func(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult

// wrap adapts a handlerFunc to mcp-go. A Go error is returned only for a
// programming fault (no result); everything else is a tool result.
func (t *toolset) wrap(name string, h handlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		cl, res := t.clientFor(req)
		if res != nil {
			return res, nil
		}
		res = h(ctx, req, cl)
		if res == nil {
			return nil, fmt.Errorf("tools: %s produced no result", name)
		}
		return res, nil
	}
}

// clientFor picks the Close client of a request: the caller's own key when
// the operator allows per-request keys and the HTTP request carries one,
// else the server's. Plans are bound to the credential (the guard compares
// cl.Principal()), so one caller's plan cannot be executed with another's
// key. The key itself never appears in a result or log line.
func (t *toolset) clientFor(req mcp.CallToolRequest) (*closeapi.Client, *mcp.CallToolResult) {
	if t.d.AllowClientKeys && req.Header != nil {
		if key := strings.TrimSpace(req.Header.Get(ClientKeyHeader)); key != "" {
			if t.d.ClientForKey == nil {
				return nil, errorResult("This server accepts the " + ClientKeyHeader + " header but has no way to use it (a configuration fault). Nothing was deleted. Ask the operator to check the server setup.")
			}
			cl, err := t.d.ClientForKey(key)
			if err != nil || cl == nil {
				// err is not shown: it could quote the key.
				return nil, errorResult("The Close API key in the " + ClientKeyHeader + " header could not be used. Nothing was deleted. Check the header's value.")
			}
			return cl, nil
		}
	}
	if t.d.Client == nil {
		return nil, errorResult("No Close API key is configured. Nothing was deleted. Set CLOSE_API_KEY for the server, or send the " + ClientKeyHeader + " header where the server allows it.")
	}
	return t.d.Client, nil
}

func (t *toolset) env() string {
	if t.d.Environment == "" {
		return "close"
	}
	return t.d.Environment
}

// preview_bulk_delete

func (t *toolset) preview(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a previewArgs
	if e := decodeArgs(req, &a, "s_query", "sort"); e != nil {
		return argErrorResult(e)
	}
	// Whether s_query or smart_view_id (one of them, never both), a usable
	// Smart View id and results_limit ≥ 1 are the guard's rules (Preview):
	// judged there once, in one wording, and recorded.
	hasQuery, hasView := len(a.SQuery) > 0, a.SmartViewID != ""
	in := guards.PreviewInput{SmartViewID: a.SmartViewID, SendDoneEmail: a.SendDoneEmail}
	var wrapped *schema.Request
	if hasQuery {
		r, err := schema.Decode(a.SQuery)
		if err != nil {
			return argErrorResult(decodeError(err, "/s_query"))
		}
		wrapped = r
		in.Query, in.Unrecognised = r.Query, r.Unrecognised
		in.Sort, in.ResultsLimit = r.Sort, r.ResultsLimit
	}
	if len(a.Sort) > 0 {
		s, err := schema.DecodeSort(a.Sort)
		if err != nil {
			return argErrorResult(decodeError(err, "/sort"))
		}
		// A pasted Smart View brings its own sort; a second, different one
		// would leave it unclear which matches fall inside results_limit.
		if wrapped != nil && len(wrapped.Sort) > 0 && !sameSort(wrapped.Sort, s) {
			return argErrorResult(&argError{Pointer: "/sort", Problem: "s_query already has a sort, and sort gives a different one",
				Next: "Give the sort once: inside s_query or as sort."})
		}
		in.Sort = s
	}
	if a.ResultsLimit != nil {
		if wrapped != nil && wrapped.ResultsLimit != nil && *wrapped.ResultsLimit != *a.ResultsLimit {
			return argErrorResult(&argError{Pointer: "/results_limit", Problem: fmt.Sprintf("s_query already has results_limit %d, and results_limit gives %d", *wrapped.ResultsLimit, *a.ResultsLimit),
				Next: "Give results_limit once: inside s_query or as results_limit."})
		}
		in.ResultsLimit = a.ResultsLimit
	}
	if a.SampleSize != nil {
		if *a.SampleSize < 0 || *a.SampleSize > guards.MaxSampleSize {
			return argErrorResult(&argError{Pointer: "/sample_size", Problem: fmt.Sprintf("must be between 0 and %d, got %d", guards.MaxSampleSize, *a.SampleSize),
				Next: "Pass a sample_size from 0 (count only) to 50, or leave it out for 10."})
		}
		in.SampleSize = *a.SampleSize
		if in.SampleSize == 0 {
			in.SampleSize = guards.NoSample
		}
	}
	p, err := t.d.Guard.Preview(ctx, cl, in)
	if err != nil {
		what := "such object"
		if hasView {
			what = "Smart View " + a.SmartViewID
		}
		return failure(err, effectNone, what)
	}
	out := previewResult{
		PlanID:             p.PlanID,
		Environment:        t.envOr(p.Environment),
		ObjectType:         p.ObjectType,
		Total:              p.Total,
		WillDelete:         p.WillDelete,
		OrgTotal:           p.OrgTotal,
		Share:              p.Share,
		ResultsLimit:       p.ResultsLimit,
		Summary:            p.Summary,
		Sample:             p.Sample,
		Warnings:           p.Warnings,
		Executable:         p.Executable,
		Refusal:            p.Refusal,
		ConfirmationPhrase: p.ConfirmationPhrase,
	}
	if out.Sample == nil {
		out.Sample = []closeapi.SampleItem{}
	}
	if !p.ExpiresAt.IsZero() {
		e := p.ExpiresAt.UTC()
		out.ExpiresAt = &e
	}
	if t.d.ReadOnly && out.Executable {
		// create_bulk_delete is not registered here: a preview must not
		// invite a call that cannot be made.
		out.Executable, out.ConfirmationPhrase, out.ExpiresAt = false, "", nil
		out.Refusal = &guards.Refusal{Code: guards.CodeReadOnly,
			Problem: "this server runs with --read-only, so it has no create_bulk_delete and this plan cannot be executed here",
			Next:    "Show the person the count, summary and sample. To delete these, the operator has to run bulkguard without --read-only; preview again there."}
	}
	out.NextStep = previewNextStep(&out)
	return structuredResult(out, previewText(&out))
}

// sameSort compares two sorts by their Close encoding.
func sameSort(a, b []schema.Sort) bool {
	ea, err1 := schema.EncodeSort(a)
	eb, err2 := schema.EncodeSort(b)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

func (t *toolset) envOr(e string) string {
	if e != "" {
		return e
	}
	return t.env()
}

// decodeError turns a schema.DecodeError into an argError under prefix.
func decodeError(err error, prefix string) *argError {
	var de *schema.DecodeError
	if errors.As(err, &de) {
		return &argError{Pointer: prefix + de.Pointer, Problem: de.Problem,
			Next: "Fix the query at that place and call preview_bulk_delete again."}
	}
	return &argError{Pointer: prefix, Problem: err.Error(), Next: "Fix it and call preview_bulk_delete again."}
}

// matchVerb agrees with a count: "1 lead matches", "2 leads match".
func matchVerb(n int) string {
	if n == 1 {
		return "matches"
	}
	return "match"
}

// sampleDetail is what tells a sampled object from a namesake: its status,
// the day it was created and, for a contact, the lead it belongs to.
func sampleDetail(s closeapi.SampleItem) string {
	var parts []string
	if s.Status != "" {
		parts = append(parts, "status "+strconv.Quote(s.Status))
	}
	if s.DateCreated != "" {
		day := s.DateCreated
		if t, err := time.Parse(time.RFC3339, s.DateCreated); err == nil {
			day = t.UTC().Format(time.DateOnly)
		}
		parts = append(parts, "created "+day)
	}
	if s.LeadID != "" {
		parts = append(parts, "of lead "+s.LeadID)
	}
	return strings.Join(parts, ", ")
}

func previewText(p *previewResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "PREVIEW (%s, nothing deleted): %s %s; %d would be deleted.\n", p.Environment, plural(p.Total, p.ObjectType), matchVerb(p.Total), p.WillDelete)
	if p.Share != "" {
		fmt.Fprintf(&b, "Share: %s.\n", p.Share)
	}
	fmt.Fprintf(&b, "Query: %s\n", p.Summary)
	if len(p.Sample) > 0 {
		fmt.Fprintf(&b, "Sample (%d of %d):\n", len(p.Sample), p.Total)
		for _, s := range p.Sample {
			// Quoted: lead names are data anyone can type, never instructions.
			if d := sampleDetail(s); d != "" {
				fmt.Fprintf(&b, "- %q (%s; %s)\n", s.DisplayName, s.ID, d)
			} else {
				fmt.Fprintf(&b, "- %q (%s)\n", s.DisplayName, s.ID)
			}
		}
	}
	for _, w := range p.Warnings {
		fmt.Fprintf(&b, "Warning: %s\n", w)
	}
	if !p.Executable {
		// The same account as next_step, with the pointer.
		b.WriteString("NOT EXECUTABLE")
		if p.Refusal != nil {
			fmt.Fprintf(&b, " (%s): %s", p.Refusal.Code, p.Refusal.Problem)
			if p.Refusal.Pointer != "" {
				fmt.Fprintf(&b, " at %s", p.Refusal.Pointer)
			}
			b.WriteString(". " + p.Refusal.Next)
		}
		b.WriteString("\n")
		return b.String()
	}
	b.WriteString(p.NextStep + "\n")
	return b.String()
}

// create_bulk_delete

// planIDPattern bounds what a plan id can look like before it reaches the
// guard (whose ids are plan_ and 24 base62 characters).
var planIDPattern = regexp.MustCompile(`^plan_[A-Za-z0-9]{1,64}$`)

func (t *toolset) create(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a createArgs
	if e := decodeArgs(req, &a); e != nil {
		return argErrorResult(e)
	}
	if a.PlanID == "" {
		return argErrorResult(errRequired("plan_id", "the plan_id preview_bulk_delete returned"))
	}
	if !planIDPattern.MatchString(a.PlanID) {
		// Not echoed: it is not an id bulkguard could have issued, and it
		// may be megabytes long.
		return argErrorResult(&argError{Pointer: "/plan_id", Problem: "is not a plan id (plan_ followed by letters and digits)",
			Next: "Pass the plan_id that preview_bulk_delete returned, unchanged."})
	}
	return t.confirmAndRun(ctx, req, cl, a.Confirm, confirmation{
		target: a.PlanID,
		eff:    effectCreate,
		what:   "such object",
		begin: func(ctx context.Context) (*guards.Pending, error) {
			return t.d.Guard.BeginCreate(ctx, cl, a.PlanID)
		},
		run: func(ctx context.Context, c guards.Confirmation) *mcp.CallToolResult {
			notify := progressNotifier(ctx, req)
			ctx = guards.WithBackupProgress(ctx, func(p guards.BackupProgress) {
				notify(float64(p.Done), float64(p.Total), "backup: "+p.Message)
			})
			ex, err := t.d.Guard.Create(ctx, cl, a.PlanID, c)
			if err != nil {
				return failure(err, effectCreate, "such object")
			}
			if ex == nil || ex.Job == nil {
				return nil // a guard fault: wrap turns it into a JSON-RPC error
			}
			out := createResult{Environment: t.env(), Job: ex.Job, Receipt: ex.Receipt}
			out.NextStep = createNextStep(&out)
			return structuredResult(out, createText(&out))
		},
	})
}

func createText(c *createResult) string {
	var b strings.Builder
	status := c.Job.StatusString()
	fmt.Fprintf(&b, "BULK DELETE STARTED (%s): job %s, status %s, deleting at most %s (previewed %d, recounted %d), confirmed by %s.\n",
		c.Environment, c.Job.ID, status, plural(c.Receipt.ResultsLimitSent, c.Job.BulkObjectType), c.Receipt.Previewed, c.Receipt.Recounted, c.Receipt.ConfirmedBy)
	fmt.Fprintf(&b, "Audit record %s. %s\n", c.Receipt.AuditID, c.NextStep)
	return b.String()
}

// list_bulk_deletes

// listPage is how many jobs are read from Close per page when filtering,
// and listScanMax bounds the jobs one filtered call reads, so a rare filter
// over a long history costs a bounded number of requests; the caller pages
// on with next_skip.
const (
	listPage    = 100
	listScanMax = 1000
)

func (t *toolset) list(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a listArgs
	if e := decodeArgs(req, &a); e != nil {
		return argErrorResult(e)
	}
	limit, skip := 20, 0
	if a.Limit != nil {
		if *a.Limit < 1 || *a.Limit > 100 {
			return argErrorResult(&argError{Pointer: "/limit", Problem: fmt.Sprintf("must be between 1 and 100, got %d", *a.Limit), Next: "Pass a limit from 1 to 100."})
		}
		limit = *a.Limit
	}
	if a.Skip != nil {
		if *a.Skip < 0 {
			return argErrorResult(&argError{Pointer: "/skip", Problem: fmt.Sprintf("must not be negative, got %d", *a.Skip), Next: "Pass 0 or the next_skip of the previous page."})
		}
		skip = *a.Skip
	}
	if a.Status != "" && !slices.Contains(jobStatuses, string(a.Status)) {
		return argErrorResult(&argError{Pointer: "/status", Problem: fmt.Sprintf("%q is not a job status", a.Status), Next: "Use one of: " + strings.Join(jobStatuses, ", ") + "."})
	}
	if a.ObjectType != "" && !slices.Contains(jobObjectTypes, a.ObjectType) {
		return argErrorResult(&argError{Pointer: "/object_type", Problem: fmt.Sprintf("%q is not a bulk-action object type", a.ObjectType), Next: "Use one of: " + strings.Join(jobObjectTypes, ", ") + "."})
	}
	out := listResult{Environment: t.env(), Jobs: []closeapi.BulkDelete{}}
	if a.Status == "" && a.ObjectType == "" {
		page, err := cl.ListBulkDeletes(ctx, limit, skip)
		if err != nil {
			return failure(err, effectNone, "")
		}
		out.Jobs = append(out.Jobs, page.Data...)
		out.HasMore = page.HasMore
		if page.HasMore {
			next := skip + len(page.Data)
			out.NextSkip = &next
		}
		return structuredResult(out, listText(&out))
	}
	match := func(j *closeapi.BulkDelete) bool {
		return (a.Status == "" || j.StatusString() == string(a.Status)) && (a.ObjectType == "" || j.BulkObjectType == a.ObjectType)
	}
	offset := skip
	for {
		page, err := cl.ListBulkDeletes(ctx, listPage, offset)
		if err != nil {
			return failure(err, effectNone, "")
		}
		for i := range page.Data {
			out.Scanned++
			if !match(&page.Data[i]) {
				continue
			}
			out.Jobs = append(out.Jobs, page.Data[i])
			if len(out.Jobs) == limit {
				next := offset + i + 1
				out.HasMore = i+1 < len(page.Data) || page.HasMore
				if out.HasMore {
					out.NextSkip = &next
				}
				return structuredResult(out, listText(&out))
			}
		}
		offset += len(page.Data)
		if !page.HasMore || len(page.Data) == 0 {
			return structuredResult(out, listText(&out))
		}
		if out.Scanned >= listScanMax {
			// Bounded: report where to go on rather than read the whole
			// history in one call.
			out.HasMore = true
			next := offset
			out.NextSkip = &next
			return structuredResult(out, listText(&out))
		}
	}
}

var (
	jobStatuses    = guards.JobStatuses()
	jobObjectTypes = []string{"lead", "contact", "call", "custom_activity", "form_submission"}
)

func listText(l *listResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s)", plural(len(l.Jobs), "bulk-delete job"), l.Environment)
	if l.Scanned > 0 {
		fmt.Fprintf(&b, ", %d scanned", l.Scanned)
	}
	b.WriteString(":\n")
	for i := range l.Jobs {
		b.WriteString("- " + jobLine(&l.Jobs[i]) + "\n")
	}
	if l.HasMore && l.NextSkip != nil {
		fmt.Fprintf(&b, "More: call again with skip %d.\n", *l.NextSkip)
	}
	return b.String()
}

// get_bulk_delete, pause_bulk_delete, resume_bulk_delete

// jobID decodes and checks a job id argument.
func jobID(id string) *argError {
	if id == "" {
		return errRequired("id", "a bulkdelete_… id from create_bulk_delete or list_bulk_deletes")
	}
	if err := closeapi.ValidateBulkDeleteID(id); err != nil {
		return &argError{Pointer: "/id", Problem: fmt.Sprintf("%q is not a bulk-delete job id (bulkdelete_…)", guards.Clip(id, 60)),
			Next: "Use the id create_bulk_delete or list_bulk_deletes returned."}
	}
	return nil
}

func (t *toolset) jobResult(j *closeapi.BulkDelete, headline string) *mcp.CallToolResult {
	out := jobResult{Environment: t.env(), Job: j, Progress: progressOf(j)}
	out.NextStep = jobNextStep(j, out.Progress)
	return structuredResult(out, headline+" ("+out.Environment+"): "+jobLine(j)+". "+out.NextStep+"\n")
}

// jobArgs decodes a job tool's arguments into dst and checks the job id
// among them (id points into dst).
func jobArgs[T any](req mcp.CallToolRequest, dst *T, id *string) *argError {
	if e := decodeArgs(req, dst); e != nil {
		return e
	}
	return jobID(*id)
}

// onJob runs act on the job the arguments name and shows the job it returns
// under headline; a failure is reported with eff, what it may have done.
func (t *toolset) onJob(req mcp.CallToolRequest, eff effect, headline string, act func(id string) (*closeapi.BulkDelete, error)) *mcp.CallToolResult {
	var a idArgs
	if e := jobArgs(req, &a, &a.ID); e != nil {
		return argErrorResult(e)
	}
	j, err := act(a.ID)
	if err != nil {
		return failure(err, eff, "bulk-delete job "+a.ID)
	}
	return t.jobResult(j, headline)
}

func (t *toolset) pause(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	return t.onJob(req, effectPause, "Pause requested", func(id string) (*closeapi.BulkDelete, error) {
		return t.d.Guard.Pause(ctx, cl, id)
	})
}

func (t *toolset) resume(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a resumeArgs
	if e := jobArgs(req, &a, &a.ID); e != nil {
		return argErrorResult(e)
	}
	what := "bulk-delete job " + a.ID
	return t.confirmAndRun(ctx, req, cl, a.Confirm, confirmation{
		target: a.ID,
		eff:    effectResume,
		what:   what,
		begin: func(ctx context.Context) (*guards.Pending, error) {
			return t.d.Guard.BeginResume(ctx, cl, a.ID)
		},
		run: func(ctx context.Context, c guards.Confirmation) *mcp.CallToolResult {
			j, err := t.d.Guard.Resume(ctx, cl, a.ID, c)
			if err != nil {
				return failure(err, effectResume, what)
			}
			return t.jobResult(j, "Resumed, confirmed by "+c.By)
		},
	})
}

// lookup_close_ids

// lookupMax bounds the items of one lookup; name narrows it.
const lookupMax = 200

var lookupKinds = guards.LookupKinds()

func (t *toolset) lookup(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a lookupArgs
	if e := decodeArgs(req, &a); e != nil {
		return argErrorResult(e)
	}
	kind := string(a.Kind)
	if kind == "" {
		return argErrorResult(errRequired("kind", strings.Join(lookupKinds, ", ")))
	}
	if !slices.Contains(lookupKinds, kind) {
		return argErrorResult(&argError{Pointer: "/kind", Problem: fmt.Sprintf("%q is not a kind of id", kind), Next: "Use one of: " + strings.Join(lookupKinds, ", ") + "."})
	}
	items, err := t.d.Guard.Lookup(ctx, cl, kind)
	if err != nil {
		return failure(err, effectNone, "")
	}
	out := lookupResult{Environment: t.env(), Kind: kind, Items: []guards.LookupItem{}}
	needle := strings.ToLower(strings.TrimSpace(a.Name))
	for _, it := range items {
		if needle != "" && !strings.Contains(strings.ToLower(it.Name), needle) {
			continue
		}
		if len(out.Items) == lookupMax {
			out.Truncated = true
			break
		}
		out.Items = append(out.Items, it)
	}
	return structuredResult(out, lookupText(&out))
}

func lookupText(l *lookupResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s (%s):\n", len(l.Items), strings.ReplaceAll(l.Kind, "_", " "), l.Environment)
	for _, it := range l.Items {
		fmt.Fprintf(&b, "- %s: %s", it.ID, it.Name)
		if it.Type != "" {
			fmt.Fprintf(&b, " [%s]", it.Type)
		}
		if len(it.Choices) > 0 {
			fmt.Fprintf(&b, " choices: %s", strings.Join(it.Choices, ", "))
		}
		if it.Email != "" {
			fmt.Fprintf(&b, " <%s>", it.Email)
		}
		b.WriteString("\n")
	}
	if l.Truncated {
		fmt.Fprintf(&b, "Only the first %d are shown: pass name to narrow.\n", lookupMax)
	}
	return b.String()
}
