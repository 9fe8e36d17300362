package guards

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/schema"
)

// PreviewInput is what to preview: a decoded query (schema.Decode) or a
// Smart View id, never both.
type PreviewInput struct {
	Query        schema.Node
	Unrecognised []schema.Unrecognised
	// SmartViewID snapshots the view's s_query.query, results_limit and
	// sort (docs/close-api.md §5.3 "by snapshot", inferred).
	SmartViewID string
	// Sort overrides the view's sort when set.
	Sort []schema.Sort
	// ResultsLimit must be ≥ 1 when set. With a Smart View the smaller of
	// this and the view's own results_limit is used, so naming a view can
	// never delete more than the view shows.
	ResultsLimit  *int
	SendDoneEmail *bool
	// SampleSize is how many matches to show: 0 → 10, at most 50,
	// NoSample (-1) → count only.
	SampleSize int
}

// Preview is what the person is shown before confirming.
type Preview struct {
	PlanID             string                `json:"plan_id"`
	Environment        string                `json:"environment"`
	ObjectType         string                `json:"object_type"`
	Total              int                   `json:"total"`
	WillDelete         int                   `json:"will_delete"`
	ResultsLimit       *int                  `json:"results_limit"`
	Summary            string                `json:"summary"`
	Sample             []closeapi.SampleItem `json:"sample"`
	Warnings           []string              `json:"warnings"`
	Executable         bool                  `json:"executable"`
	Refusal            *Refusal              `json:"refusal,omitempty"`
	ConfirmationPhrase string                `json:"confirmation_phrase,omitempty"`
	ExpiresAt          time.Time             `json:"expires_at"`
	QueryDigest        string                `json:"query_digest"`
	// OrgTotal is every object of the type in the organization; Share says
	// what part of it the delete takes.
	OrgTotal int    `json:"org_total"`
	Share    string `json:"share"`
	// IDsChecked is how many ids the plan keeps for create to check (every
	// one the delete would take); 0 means only the sample is checked.
	IDsChecked int `json:"ids_checked"`
}

// Preview judges the input by policy, counts and samples it in one Close
// request, and saves a plan.
//
// Policy failures that need no count (no or disallowed object type,
// match-everything, a bad results_limit, an unusable Smart View) return a
// *Refusal and save nothing. When Close has counted, the result is a
// Preview with a saved plan even if it cannot be executed (too many
// matches, none, or the audit log failing): the person still learns the
// count, and create with that plan_id repeats the reason.
func (g *Guard) Preview(ctx context.Context, cl *closeapi.Client, in PreviewInput) (*Preview, error) {
	principal := cl.Principal()
	rec := AuditRecord{Principal: principal}

	var (
		node     = in.Query
		unrec    = in.Unrecognised
		sort     = in.Sort
		limit    = in.ResultsLimit
		warnings []string
		viewID   string
		// viewMatchAll: the Smart View's own query matched everything.
		viewMatchAll bool
	)
	if in.ResultsLimit != nil && *in.ResultsLimit < 1 {
		return nil, g.refuse(&Refusal{Code: CodeResultsLimitInvalid, Pointer: "/results_limit",
			Problem: fmt.Sprintf("results_limit is %d; it must be at least 1 when set", *in.ResultsLimit),
			Next:    "Leave results_limit out to delete every match, or set it to a positive number, then call preview_bulk_delete again."}, rec)
	}
	switch {
	case in.Query != nil && in.SmartViewID != "":
		return nil, g.refuse(&Refusal{Code: CodeQueryAndSmartView, Pointer: "/smart_view_id",
			Problem: "s_query and smart_view_id were both given",
			Next:    "Give one of them: s_query for a query you wrote or pasted, or smart_view_id to delete what a Smart View matches, then call preview_bulk_delete again."}, rec)
	case in.SmartViewID != "":
		snap, err := g.snapshotView(ctx, cl, in.SmartViewID, rec)
		if err != nil {
			return nil, err
		}
		viewID = in.SmartViewID
		viewMatchAll = snap.matchAll
		node, unrec, warnings = snap.node, snap.unrec, snap.warnings
		if len(sort) == 0 {
			sort = snap.sort
		}
		if snap.limit != nil && (limit == nil || *snap.limit < *limit) {
			limit = snap.limit
		}
		if limit != nil && *limit < 1 {
			return nil, g.refuse(&Refusal{Code: CodeResultsLimitInvalid, Pointer: "/smart_view_id",
				Problem: fmt.Sprintf("the Smart View's results_limit is %d", *limit),
				Next:    "Fix the view's limit in Close or pass s_query instead, then call preview_bulk_delete again."}, rec)
		}
	case in.Query == nil:
		return nil, g.refuse(&Refusal{Code: CodeQueryMissing, Pointer: "/s_query",
			Problem: "s_query or smart_view_id is required",
			Next:    "Pass s_query (a Close structured query naming its object_type) or smart_view_id (from lookup_close_ids kind smart_views), then call preview_bulk_delete again."}, rec)
	}

	// Policy judged without Close. A problem in a Smart View's query is
	// pointed at the view id, the only thing the caller wrote.
	queryPointer := "/s_query"
	if viewID != "" {
		queryPointer = "/smart_view_id"
	}
	// A named object type that may not be deleted is refused for its type
	// first: a lone object_type of it is not a match-all question.
	objectType, ok := schema.ObjectTypeOf(node)
	if ok && !slices.Contains(g.policy.AllowedObjectTypes, objectType) {
		rec.ObjectType = objectType
		return nil, g.refuse(&Refusal{Code: CodeObjectTypeNotAllowed, Pointer: objectTypePointer(node),
			Problem: fmt.Sprintf("deleting %q objects is not allowed here (allowed: %s)", objectType, strings.Join(g.policy.AllowedObjectTypes, ", ")),
			Next:    "Use one of the allowed object types. The operator sets them with --allowed-object-types."}, rec)
	}
	if (viewMatchAll || schema.MatchesEverything(node)) && !g.policy.AllowMatchAll {
		return nil, g.refuse(&Refusal{Code: CodeMatchAll, Pointer: queryPointer,
			Problem: "the query matches every object (match_all, an empty and, only an object_type, or a negated root)",
			Next:    nextMatchAll}, rec)
	}
	if !ok {
		return nil, g.refuse(&Refusal{Code: CodeObjectTypeMissing, Pointer: queryPointer,
			Problem: "the query does not name its object type",
			Next:    `Wrap the query as {"type":"and","queries":[{"type":"object_type","object_type":"lead"}, …your conditions…]} (or "contact"), then call preview_bulk_delete again.`}, rec)
	}
	rec.ObjectType = objectType

	query, err := schema.Encode(node)
	if err != nil {
		return nil, &Error{Op: "encode query", Err: err}
	}
	sortJSON, err := schema.EncodeSort(sort)
	if err != nil {
		return nil, &Error{Op: "encode sort", Err: err}
	}
	digest := schema.Digest(node)
	summary := describe(node, g.idNames(ctx, cl, node), limit, sort)
	rec.QueryDigest, rec.Summary = digest, summary

	for _, u := range unrec {
		warnings = append(warnings, fmt.Sprintf("unrecognised %s %q at %s: bulkguard sends it to Close verbatim but cannot describe it, so the summary leaves it out; check the sample", u.What, u.Name, pointerOrRoot(u.Pointer)))
	}
	warnings = append(warnings, queryWarnings(node)...)
	verifyUpTo := min(g.policy.VerifyIDsUpTo, g.policy.MaxObjects)
	if relativeMoments(node) {
		warnings = append(warnings, fmt.Sprintf("the query has a relative date (now, an offset from now, or today): which objects match changes with time, so create checks that the delete still takes the previewed objects (every id up to %d, else the sample) and refuses if others would be taken", verifyUpTo))
	}
	warnings = append(warnings, g.backupWarnings()...)
	if g.recentlyCreated(principal) {
		warnings = append(warnings, "a bulk delete was started with this credential in the last minute; Close's search lags deletes by 30–60 seconds, so this count may still include objects that are being deleted, or miss ones that are changing (create recounts, never sends more than this count, and refuses if objects other than the previewed ones would be taken)")
	}

	n := in.SampleSize
	switch {
	case n == 0:
		n = DefaultSampleSize
	case n < 0:
		n = 0
	case n > MaxSampleSize:
		warnings = append(warnings, fmt.Sprintf("sample_size %d was lowered to %d", n, MaxSampleSize))
		n = MaxSampleSize
	}
	// The count, the sample and (up to verifyUpTo) every id the delete
	// would take come from one search with the exact query, sort and
	// results_limit the delete will send: one request up to 200 objects,
	// then one per 200 along the cursor.
	m, err := cl.Matches(ctx, closeapi.MatchRequest{Query: query, Sort: sortJSON, ObjectType: objectType,
		ResultsLimit: limit, Sample: n, AllIDsUpTo: verifyUpTo})
	if err != nil {
		rec.Event, rec.Outcome, rec.Reason = EventPreview, "error", "count failed: "+err.Error()
		_, _ = g.audit(rec)
		return nil, &Error{Op: "count the matches", Err: err}
	}
	total := m.Count.Total
	will := total
	if limit != nil && *limit < will {
		will = *limit
	}
	sample := m.Sample
	if limit != nil && total > 0 && *limit >= total {
		// A results_limit is usually meant to keep some matches; at or above
		// the count it keeps none, which the person should read, not infer.
		warnings = append(warnings, fmt.Sprintf("results_limit %d is at least the number of matches (%s), so nothing will be kept: every matching %s would be deleted", *limit, plural(total, objectType), objectType))
	}
	if warnings == nil {
		warnings = []string{}
	}

	// Match-all is judged by count too: shape rules cannot see a tautology
	// ("date_created on or after 1970", "id is not lead_x").
	orgTotal, cached, err := g.orgTotal(ctx, cl, objectType, false)
	if err == nil && cached && total >= orgTotal {
		// The cached total may predate objects created since; only a fresh
		// one may call this query "everything".
		orgTotal, _, err = g.orgTotal(ctx, cl, objectType, true)
	}
	if err != nil {
		rec.Event, rec.Outcome, rec.Reason = EventPreview, "error", "counting every "+objectType+" failed: "+err.Error()
		_, _ = g.audit(rec)
		return nil, &Error{Op: "count every " + objectType + " of the organization", Err: err}
	}
	share := shareText(will, orgTotal, objectType)
	if total > 0 && total >= orgTotal && !g.policy.AllowMatchAll {
		rec.Total, rec.WillDelete = intp(total), intp(will)
		return nil, g.refuse(&Refusal{Code: CodeMatchAll, Pointer: queryPointer,
			Problem: fmt.Sprintf("the query matches %s of %s: every %s in the organization, whatever its conditions say", plural(total, objectType), plural(orgTotal, objectType), objectType),
			Next:    nextMatchAll}, rec)
	}
	if warnings == nil {
		warnings = []string{}
	}

	now := g.now()
	plan := &Plan{
		ID:          newPlanID(),
		Principal:   principal,
		Environment: g.env,
		ObjectType:  objectType,
		Request: closeapi.BulkDeleteRequest{
			SQuery:        query,
			ResultsLimit:  limit,
			Sort:          sortJSON,
			SendDoneEmail: in.SendDoneEmail,
		},
		SmartViewID: viewID,
		Summary:     summary,
		QueryDigest: digest,
		Total:       total,
		WillDelete:  will,
		Warnings:    warnings,
		Executable:  true,
		CreatedAt:   now,
		ExpiresAt:   now.Add(g.policy.PlanTTL),
	}
	plan.Sample = sample
	for _, s := range sample {
		plan.SampleIDs = append(plan.SampleIDs, s.ID)
	}
	if m.Complete && len(m.IDs) == will {
		if packed, ok := packIDs(m.IDs); ok {
			plan.IDs = packed
			plan.IDsDigest = idsDigest(packed)
		}
	}
	if will <= verifyUpTo && plan.IDs == "" && will > 0 {
		warnings = append(warnings, fmt.Sprintf("Close's search listed %d of the %d ids this delete would take (its index may be catching up), so create can check only the sample", len(m.IDs), will))
		plan.Warnings = warnings
	}
	switch {
	case total == 0:
		plan.Executable = false
		plan.Refusal = &Refusal{Code: CodeNothingToDelete,
			Problem: "no " + objectType + " matches this query, so there is nothing to delete",
			Next:    "Check the conditions (lookup_close_ids gives real status, custom field and user ids), then call preview_bulk_delete again."}
		if g.recentlyCreated(principal) {
			plan.Refusal.Next += " If the objects were just deleted, Close's search may take up to a minute to catch up."
		}
	case will > g.policy.MaxObjects:
		plan.Executable = false
		plan.Refusal = &Refusal{Code: CodeTooMany,
			Problem: fmt.Sprintf("this would delete %s, more than the limit of %d per bulk delete", plural(will, objectType), g.policy.MaxObjects),
			Next:    nextNarrow + fmt.Sprintf(" The limit is %d (--max-objects).", g.policy.MaxObjects)}
	case !g.policy.AllowMatchAll && float64(will) > g.policy.MaxShare*float64(orgTotal):
		plan.Executable = false
		plan.Refusal = &Refusal{Code: CodeShareTooLarge,
			Problem: fmt.Sprintf("this would delete %s, more than %s of every %s (the limit is a share of %g, --max-share)", share, sharePercent(g.policy.MaxShare), objectType, g.policy.MaxShare),
			Next:    nextNarrow + " Deleting most of an organization needs the operator to raise --max-share."}
	}
	if plan.Executable {
		plan.Phrase = DeletePhrase(will, objectType)
	}

	prec := planRecord(plan)
	prec.Event = EventPreview
	prec.Outcome = "executable"
	if !plan.Executable {
		prec.Outcome = "not_executable"
		prec.Code = plan.Refusal.Code
		prec.Reason = plan.Refusal.Error()
	}
	if _, err := g.audit(prec); err != nil && plan.Executable {
		// Recording before anything can be deleted: a plan whose preview was
		// not recorded is never executable.
		plan.Executable, plan.Phrase = false, ""
		plan.Refusal = &Refusal{Code: CodeAuditUnavailable,
			Problem: "the audit log could not be written (" + err.Error() + ")",
			Next:    "Ask the operator to fix the audit log (--audit-log path, disk space, permissions), then call preview_bulk_delete again."}
	}
	if r := g.reservePlan(ctx, plan); r != nil {
		return nil, g.refuse(r, prec)
	}
	if err := g.store.Save(ctx, plan); err != nil {
		// A reservation left behind only counts until the plan's expiry,
		// so failing to undo it (the store is likely down) is harmless.
		_ = g.plans.UnreservePlan(context.WithoutCancel(ctx), plan.Principal, plan.ID)
		return nil, &Error{Op: "save plan", Err: err}
	}

	return &Preview{
		PlanID:             plan.ID,
		Environment:        g.env,
		ObjectType:         objectType,
		Total:              total,
		WillDelete:         will,
		ResultsLimit:       limit,
		Summary:            summary,
		Sample:             sample,
		Warnings:           warnings,
		Executable:         plan.Executable,
		Refusal:            plan.Refusal,
		ConfirmationPhrase: plan.Phrase,
		ExpiresAt:          plan.ExpiresAt,
		QueryDigest:        digest,
		OrgTotal:           orgTotal,
		Share:              share,
		IDsChecked:         len(unpackIDs(plan.IDs)),
	}, nil
}

type viewSnapshot struct {
	node     schema.Node
	unrec    []schema.Unrecognised
	sort     []schema.Sort
	limit    *int
	warnings []string
	matchAll bool
}

// snapshotView reads a Smart View once and copies its query, results_limit
// and sort, so what is counted is what is deleted even if the view is
// edited afterwards (docs/close-api.md §5.3, "by snapshot" [INF]).
func (g *Guard) snapshotView(ctx context.Context, cl *closeapi.Client, id string, rec AuditRecord) (*viewSnapshot, error) {
	if err := closeapi.ValidateSmartViewID(id); err != nil {
		return nil, g.refuse(&Refusal{Code: CodeSmartViewInvalidID, Pointer: "/smart_view_id",
			Problem: fmt.Sprintf("%q is not a Smart View id (they look like save_…)", Clip(id, 80)),
			Next:    "Find the id with lookup_close_ids (kind smart_views), then call preview_bulk_delete again."}, rec)
	}
	sv, err := cl.SmartView(ctx, id)
	if closeapi.IsNotFound(err) {
		return nil, g.refuse(&Refusal{Code: CodeSmartViewNotFound, Pointer: "/smart_view_id",
			Problem: "Close has no Smart View " + id + " visible to this credential",
			Next:    "Find the id with lookup_close_ids (kind smart_views), then call preview_bulk_delete again."}, rec)
	}
	if err != nil {
		return nil, &Error{Op: "read Smart View " + id, Err: err}
	}
	viewType := strings.ToLower(sv.Type)
	if viewType == "" {
		// The API documents type as required and defaulting to lead (docs/close-api.md §5.1).
		viewType = "lead"
	}
	if !slices.Contains(g.policy.AllowedObjectTypes, viewType) {
		return nil, g.refuse(&Refusal{Code: CodeSmartViewType, Pointer: "/smart_view_id",
			Problem: fmt.Sprintf("Smart View %s lists %q objects, which may not be deleted here (allowed: %s)", id, viewType, strings.Join(g.policy.AllowedObjectTypes, ", ")),
			Next:    "Pick a view of an allowed object type, or pass s_query, then call preview_bulk_delete again."}, rec)
	}
	raw := strings.TrimSpace(string(sv.SQuery))
	if raw == "" || raw == "null" {
		return nil, g.refuse(&Refusal{Code: CodeSmartViewLegacy, Pointer: "/smart_view_id",
			Problem: fmt.Sprintf("Smart View %s has no structured query (it is a legacy string-query view)", id),
			Next:    "Open the view in Close, use \"Copy Filters\" and pass the result as s_query, then call preview_bulk_delete again."}, rec)
	}
	req, err := schema.Decode(sv.SQuery)
	if err != nil {
		return nil, g.refuse(&Refusal{Code: CodeSmartViewLegacy, Pointer: "/smart_view_id",
			Problem: fmt.Sprintf("Smart View %s's query could not be read (%v)", id, err),
			Next:    "Open the view in Close, use \"Copy Filters\" and pass the result as s_query, then call preview_bulk_delete again."}, rec)
	}
	snap := &viewSnapshot{node: req.Query, unrec: req.Unrecognised, sort: req.Sort, limit: req.ResultsLimit,
		matchAll: schema.MatchesEverything(req.Query)}
	if sv.IsUserDependent != nil && *sv.IsUserDependent {
		snap.warnings = append(snap.warnings, "this Smart View is user-dependent: what it matches depends on which Close user the credential belongs to, which may not be the person confirming")
	}
	if t, ok := schema.ObjectTypeOf(snap.node); ok {
		if t != viewType {
			return nil, g.refuse(&Refusal{Code: CodeSmartViewMismatch, Pointer: "/smart_view_id",
				Problem: fmt.Sprintf("Smart View %s is a %s view but its query selects %q objects", id, viewType, t),
				Next:    "Pass the query you mean as s_query, then call preview_bulk_delete again."}, rec)
		}
	} else {
		// A view's type names its objects even when its query does not; a
		// delete must name them (docs/design.md), so bulkguard adds the clause
		// and says so. Whether the view matched everything is judged on
		// the view's own query, before the clause is added.
		snap.node = withObjectType(snap.node, viewType)
		snap.warnings = append(snap.warnings, fmt.Sprintf("the Smart View's query does not name its object type; bulkguard added object_type %q (the view's type) before counting", viewType))
	}
	return snap, nil
}

// withObjectType puts an object_type clause first in a top-level and
// (where Close expects it), or wraps n in a new and.
func withObjectType(n schema.Node, objectType string) schema.Node {
	ot := &schema.ObjectType{ObjectType: objectType}
	if a, ok := n.(*schema.And); ok && !a.Negate {
		c := *a
		c.Queries = append([]schema.Node{ot}, a.Queries...)
		return &c
	}
	return &schema.And{Queries: []schema.Node{ot, n}}
}

// objectTypePointer finds the object_type clause ObjectTypeOf read: at the
// root or directly inside a root-level and.
func objectTypePointer(n schema.Node) string {
	if _, ok := n.(*schema.ObjectType); ok {
		return "/s_query/object_type"
	}
	if a, ok := n.(*schema.And); ok {
		for i, q := range a.Queries {
			if _, ok := q.(*schema.ObjectType); ok {
				return fmt.Sprintf("/s_query/queries/%d/object_type", i)
			}
		}
	}
	return "/s_query"
}

// queryWarnings flags constructs whose meaning can change between preview
// and delete, or depends on who asks.
func queryWarnings(n schema.Node) []string {
	var savedSearch, currentUser bool
	var statusNames []string
	schema.Walk(n, func(_ string, n schema.Node) bool {
		switch v := n.(type) {
		case *schema.SavedSearch:
			savedSearch = true
		case *schema.FieldCondition:
			switch c := v.Condition.(type) {
			case *schema.CurrentUser:
				currentUser = true
			case *schema.Reference:
				if slices.Contains(c.ObjectIDs, "CURRENT_USER") {
					currentUser = true
				}
				if c.ReferenceType == "status.lead" {
					for _, id := range c.ObjectIDs {
						if !strings.HasPrefix(id, "stat_") {
							statusNames = append(statusNames, strconv.Quote(id))
						}
					}
				}
			}
		}
		return true
	})
	var w []string
	if len(statusNames) > 0 {
		// Close references a lead status by its stat_ id (docs/close-api.md
		// §3.4); a label in its place names no status.
		what := "lead status " + statusNames[0] + " is not a status id: Close will match nothing for it"
		if len(statusNames) > 1 {
			what = "lead statuses " + strings.Join(statusNames, ", ") + " are not status ids: Close will match nothing for them"
		}
		w = append(w, what+" or refuse the query; lookup_close_ids kind lead_statuses gives the stat_ ids to use instead")
	}
	if savedSearch {
		w = append(w, "the query refers to a Smart View by id (saved_search): if someone edits that view after this preview, the delete follows the edited view; create recounts and refuses if more objects match, but it cannot see a view that now matches different objects of the same number")
	}
	if currentUser {
		w = append(w, "the query uses the current user (CURRENT_USER / current_user): it means the Close user the credential belongs to, which may not be the person confirming")
	}
	return w
}

// sharePercent renders a MaxShare as a percentage ("50%").
func sharePercent(f float64) string { return fmt.Sprintf("%g%%", f*100) }

// describe is the plain-English summary the person confirms.
func describe(n schema.Node, names map[string]string, limit *int, sort []schema.Sort) string {
	s := schema.DescribeNamed(n, names)
	if limit != nil {
		s += fmt.Sprintf("; at most %d of them", *limit)
		if len(sort) > 0 {
			s += ", " + schema.DescribeSort(sort)
		}
	} else if len(sort) > 0 {
		s += "; " + schema.DescribeSort(sort)
	}
	return s
}

func pointerOrRoot(p string) string {
	if p == "" {
		return "the root"
	}
	return p
}

// recentlyCreated reports whether this guard sent a create for principal
// within the index-lag window.
func (g *Guard) recentlyCreated(principal string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.lastCreate.get(principal, g.now())
	return ok
}
