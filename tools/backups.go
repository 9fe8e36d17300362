package tools

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// Backups and restores (docs/close-backup.md): list_backups shows the backups taken before
// deletes, restore_bulk_delete brings one back. A restore's first call is a dry run; the
// second, confirmed like a delete, recreates the objects.

const (
	ToolRestore     = "restore_bulk_delete"
	ToolListBackups = "list_backups"
)

var (
	defRestore = toolDef{
		name:  ToolRestore,
		title: "Restore bulk delete",
		description: "Recreates what a bulk delete removed, from its backup (backup id or job id; without a backup, from Close's event log). " +
			"Without confirm: a dry run (counts, what cannot come back, the phrase). Then confirmed like create_bulk_delete. New ids; rerun resumes.",
		readOnly: false, destructive: false, idempotent: false, openWorld: true,
		input: inputSchemaFor[restoreArgs], output: outputSchemaFor[restoreResult],
	}
	defListBackups = toolDef{
		name:        ToolListBackups,
		title:       "List backups",
		description: "Backups taken before deletes, newest first, with counts and state.",
		readOnly:    true, destructive: false, idempotent: true, openWorld: true,
		input: inputSchemaFor[listBackupsArgs], output: outputSchemaFor[listBackupsResult],
	}
)

type restoreArgs struct {
	Backup     string `json:"backup" jsonschema:"required" jsonschema_description:"bkp_… or the bulkdelete_… job id."`
	ObjectType string `json:"object_type,omitempty" jsonschema:"enum=lead,enum=contact" jsonschema_description:"Only for a job without backup."`
	Confirm    string `json:"confirm,omitempty" jsonschema_description:"Absent: dry run. Without a form: what the person typed."`
}

type listBackupsArgs struct {
	Limit *int `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100"`
}

type backupOut struct {
	ID         string         `json:"id"`
	State      string         `json:"state"`
	Source     string         `json:"source"`
	ObjectType string         `json:"object_type"`
	JobID      string         `json:"job_id,omitempty"`
	PlanID     string         `json:"plan_id,omitempty"`
	Objects    int            `json:"objects"`
	Counts     map[string]int `json:"counts,omitempty"`
	SHA256     string         `json:"sha256,omitempty"`
	Path       string         `json:"path,omitempty"`
	Created    time.Time      `json:"created"`
	Error      string         `json:"error,omitempty"`
}

type listBackupsResult struct {
	Environment string      `json:"environment" jsonschema:"required"`
	Backups     []backupOut `json:"backups" jsonschema:"required"`
	Truncated   bool        `json:"truncated,omitempty"`
}

type restoreResult struct {
	Environment string                `json:"environment" jsonschema:"required"`
	DryRun      bool                  `json:"dry_run" jsonschema:"required"`
	Plan        backup.RestorePlan    `json:"plan" jsonschema:"required"`
	Result      *backup.RestoreResult `json:"result,omitempty"`
}

func (t *toolset) backups() (*backup.Store, *mcp.CallToolResult) {
	if t.d.Backups == nil {
		return nil, errorResult("This server has no backup directory (--backup-dir), so it has no backups to list or restore. Nothing was changed.")
	}
	return t.d.Backups, nil
}

func outOf(s *backup.Store, m *backup.Manifest) backupOut {
	o := backupOut{ID: m.ID, State: m.State, Source: m.Source, ObjectType: m.ObjectType, JobID: m.JobID, PlanID: m.PlanID,
		Objects: len(m.IDs), Counts: m.Counts, SHA256: m.SHA256, Created: m.Created, Error: m.Error}
	if dir, err := s.Path(m.ID); err == nil && m.File != "" {
		o.Path = dir + "/" + m.File
	}
	return o
}

// list_backups

func (t *toolset) listBackups(_ context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a listBackupsArgs
	if e := decodeArgs(req, &a); e != nil {
		return argErrorResult(e)
	}
	limit := 20
	if a.Limit != nil {
		if *a.Limit < 1 || *a.Limit > 100 {
			return argErrorResult(&argError{Pointer: "/limit", Problem: "must be between 1 and 100", Next: "Pass a limit from 1 to 100, or leave it out."})
		}
		limit = *a.Limit
	}
	s, res := t.backups()
	if res != nil {
		return res
	}
	all, err := s.List()
	if err != nil {
		return errorResult("The backups could not be listed: " + err.Error() + ". Nothing was changed.")
	}
	out := listBackupsResult{Environment: t.env(), Backups: []backupOut{}}
	for i := range all {
		// Another credential's backups are another organization's data.
		if all[i].Principal != "" && all[i].Principal != cl.Principal() {
			continue
		}
		if len(out.Backups) == limit {
			out.Truncated = true
			break
		}
		out.Backups = append(out.Backups, outOf(s, &all[i]))
	}
	return structuredResult(out, listBackupsText(&out))
}

func listBackupsText(l *listBackupsResult) string {
	if len(l.Backups) == 0 {
		return "No backups in this server's backup directory for this credential."
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d backups (newest first):", len(l.Backups))
	for _, o := range l.Backups {
		fmt.Fprintf(&b, "\n- %s: %s, %d %ss", o.ID, o.State, o.Objects, o.ObjectType)
		if o.JobID != "" {
			b.WriteString(", job " + o.JobID)
		}
		b.WriteString(", taken " + o.Created.UTC().Format(time.RFC3339))
		if o.Source == backup.SourceEventLog {
			b.WriteString(", from the event log")
		}
	}
	if l.Truncated {
		b.WriteString("\nMore exist; raise limit to see them.")
	}
	return b.String()
}

// restore_bulk_delete

func (t *toolset) restore(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client) *mcp.CallToolResult {
	var a restoreArgs
	if e := decodeArgs(req, &a); e != nil {
		return argErrorResult(e)
	}
	if a.Backup == "" {
		return argErrorResult(errRequired("backup", "a backup id (bkp_…) from list_backups, or the bulk delete's job id"))
	}
	if !backup.ValidID(a.Backup) && closeapi.ValidateBulkDeleteID(a.Backup) != nil {
		return argErrorResult(&argError{Pointer: "/backup", Problem: "is neither a backup id (bkp_…) nor a bulk delete job id (bulkdelete_…)",
			Next: "Pass an id from list_backups or list_bulk_deletes, unchanged."})
	}
	if a.ObjectType != "" && a.ObjectType != "lead" && a.ObjectType != "contact" {
		return argErrorResult(&argError{Pointer: "/object_type", Problem: "must be lead or contact", Next: "Pass lead or contact, or leave it out."})
	}
	s, res := t.backups()
	if res != nil {
		return res
	}
	m, res := t.findBackup(ctx, s, cl, a)
	if res != nil {
		return res
	}
	plan, err := s.PlanRestore(m.ID)
	if err != nil {
		return errorResult("The backup " + m.ID + " cannot be restored: " + trimPrefix(err.Error()) + ". Nothing was changed.")
	}
	if a.Confirm == "" && len(req.Params.InputResponses) == 0 && req.Params.RequestState == "" {
		out := restoreResult{Environment: t.env(), DryRun: true, Plan: *plan}
		return structuredResult(out, restoreDryRunText(plan))
	}
	return t.confirmAndRun(ctx, req, cl, a.Confirm, confirmation{
		target: m.ID,
		eff:    effectRestore,
		what:   "backup " + m.ID,
		begin: func(context.Context) (*guards.Pending, error) {
			p, err := s.PlanRestore(m.ID)
			if err != nil {
				return nil, err
			}
			return t.d.Guard.BeginRestore(m.ID, p.Phrase, restoreMessage(p)), nil
		},
		run: func(ctx context.Context, c guards.Confirmation) *mcp.CallToolResult {
			return t.runRestore(ctx, req, cl, s, m.ID, c)
		},
	})
}

// findBackup resolves the argument: a backup id, the job a backup was taken for, or (for a job
// without one) a backup assembled from the event log. A backup of another credential is never
// used.
func (t *toolset) findBackup(ctx context.Context, s *backup.Store, cl *closeapi.Client, a restoreArgs) (*backup.Manifest, *mcp.CallToolResult) {
	m, err := s.Find(a.Backup)
	if err == nil {
		if m.Principal != "" && m.Principal != cl.Principal() {
			return nil, errorResult("Backup " + m.ID + " was taken with a different Close credential; it can only be restored with that one. Nothing was changed.")
		}
		return m, nil
	}
	if !errors.Is(err, backup.ErrNotFound) || backup.ValidID(a.Backup) {
		return nil, errorResult(trimPrefix(err.Error()) + ". Nothing was changed. Call list_backups to see the backups there are.")
	}
	// A job without a backup: read Close's event log once, keep what it holds as a backup.
	ot := a.ObjectType
	if ot == "" {
		ot = "lead"
	}
	m, err = s.FromEventLog(ctx, cl, backup.EventLogRequest{JobID: a.Backup, ObjectType: ot, Principal: cl.Principal()})
	if err != nil {
		return nil, errorResult("No backup was taken for " + a.Backup + ", and Close's event log could not supply one: " + trimPrefix(err.Error()) + ". Nothing was changed.")
	}
	return m, nil
}

func restoreDryRunText(p *backup.RestorePlan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Dry run, nothing changed: restoring %s would create %s in %d requests.", p.BackupID, countsText(p.Create), p.Requests)
	if len(p.AlreadyRestored) > 0 {
		fmt.Fprintf(&b, " Already restored by an earlier run (skipped): %s.", countsText(p.AlreadyRestored))
	}
	if p.Uncertain > 0 {
		fmt.Fprintf(&b, " %d creates of an earlier run have no known outcome; they are looked up in Close's event log before anything is sent again.", p.Uncertain)
	}
	if len(p.NotRestored) > 0 {
		fmt.Fprintf(&b, " Not restorable from this backup: %s.", countsText(p.NotRestored))
	}
	b.WriteString(" No restore brings back: " + strings.Join(p.Cannot, "; ") + ".")
	fmt.Fprintf(&b, " To go ahead, the person types %s; call restore_bulk_delete again with confirm (a form asks them where the client has one).", p.Phrase)
	return b.String()
}

func restoreMessage(p *backup.RestorePlan) string {
	return fmt.Sprintf("This recreates %s from backup %s, with new ids. It cannot bring back: %s. Type %s to confirm.",
		countsText(p.Create), p.BackupID, strings.Join(p.Cannot[:min(3, len(p.Cannot))], "; "), p.Phrase)
}

func countsText(m map[string]int) string {
	if len(m) == 0 {
		return "nothing"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// runRestore checks the confirmation, records the intent, and restores, reporting progress to
// the client (when it sent a progress token) and every step to the audit record.
func (t *toolset) runRestore(ctx context.Context, req mcp.CallToolRequest, cl *closeapi.Client, s *backup.Store, id string, c guards.Confirmation) *mcp.CallToolResult {
	principal := cl.Principal()
	plan, err := s.PlanRestore(id)
	if err != nil {
		return errorResult("The backup " + id + " cannot be restored: " + trimPrefix(err.Error()) + ". Nothing was changed.")
	}
	if _, err := t.d.Guard.ConfirmRestore(principal, id, plan.Phrase, c); err != nil {
		return failure(err, effectRestore, "backup "+id)
	}
	notify := progressNotifier(ctx, req)
	res, err := s.Restore(ctx, cl, id, backup.RestoreOptions{Progress: func(st backup.RestoreStep) {
		reason := st.Kind + " " + st.Old
		if st.New != "" {
			reason += " → " + st.New
		}
		if st.Error != "" {
			reason += ": " + st.Error
		}
		t.d.Guard.RecordRestore(principal, id, guards.EventRestoreStep, st.Outcome, reason)
		notify(float64(st.Done), float64(st.Total), fmt.Sprintf("%s %s %s", st.Outcome, st.Kind, st.Old))
	}})
	if res == nil {
		t.d.Guard.RecordRestore(principal, id, guards.EventRestore, "error", err.Error())
		return errorResult("The restore of " + id + " could not start: " + trimPrefix(err.Error()) + ". Nothing was created.")
	}
	outcome := res.State
	reason := fmt.Sprintf("created %s; %d skipped, %d adopted, %d failed", countsText(res.Created), res.Skipped, res.Adopted, len(res.Failed))
	if err != nil {
		outcome = "stopped"
		reason += "; " + err.Error()
	}
	t.d.Guard.RecordRestore(principal, id, guards.EventRestore, outcome, reason)
	out := restoreResult{Environment: t.env(), Plan: *plan, Result: res}
	text := fmt.Sprintf("Restore of %s, confirmed by %s: %s. Created %s (%d already there, skipped; %d found after a lost answer).",
		id, c.By, res.State, countsText(res.Created), res.Skipped, res.Adopted)
	if len(res.Failed) > 0 {
		text += fmt.Sprintf(" %d could not be created (first: %s %s: %s); call restore_bulk_delete again with the same backup to retry them.",
			len(res.Failed), res.Failed[0].Kind, res.Failed[0].Old, res.Failed[0].Error)
	}
	if err != nil {
		text += " It stopped early (" + trimPrefix(err.Error()) + "); call restore_bulk_delete again with the same backup to continue: nothing is created twice."
		r := structuredResult(out, text)
		r.IsError = true
		return r
	}
	return structuredResult(out, text)
}

// progressNotifier sends notifications/progress for this call when the client asked for them
// with a progress token; otherwise it does nothing. Progress only grows.
func progressNotifier(ctx context.Context, req mcp.CallToolRequest) func(progress, total float64, msg string) {
	var token mcp.ProgressToken
	if req.Params.Meta != nil {
		token = req.Params.Meta.ProgressToken
	}
	srv := server.ServerFromContext(ctx)
	if token == nil || srv == nil {
		return func(float64, float64, string) {}
	}
	var mu sync.Mutex
	last := 0.0
	return func(progress, total float64, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if progress <= last {
			progress = last + 0.001
		}
		last = progress
		params := map[string]any{"progressToken": token, "progress": progress, "message": msg}
		if total > 0 {
			params["total"] = total
		}
		// A client that went away does not stop the work.
		_ = srv.SendNotificationToClient(ctx, string(mcp.MethodNotificationProgress), params)
	}
}
