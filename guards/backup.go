package guards

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/schema"
)

// The backup before a delete (docs/close-backup.md). After the confirmation and the recount,
// and before the delete is sent, the guard asks its Backups for a verified copy of exactly the
// objects the delete will take. With BackupRequired a backup that fails, times out or does not
// match refuses the delete and nothing is sent. The guard knows only this interface; the
// server wiring fills it with the backup package, which the guard never imports.

// BackupMode says whether a delete needs a backup first.
type BackupMode string

const (
	// BackupRequired: no verified backup, no delete.
	BackupRequired BackupMode = "required"
	// BackupOff: the operator's explicit choice; every preview says no backup will be taken.
	BackupOff BackupMode = "off"
)

// DefaultBackupTimeout bounds one backup (export, wait, download, check): Close's exports of
// large organizations take minutes.
const DefaultBackupTimeout = 10 * time.Minute

// noBackupWarning is said in every preview when no backup will be taken.
const noBackupWarning = "no backup will be taken: this server runs with --backup off, so what this delete removes cannot be restored by bulkguard (only partly from Close's event log, for 30 days)"

// BackupRequest is what the Backups are asked to copy: exactly what the delete will send and
// the ids it will take.
type BackupRequest struct {
	PlanID       string
	Principal    string
	ObjectType   string
	SQuery       json.RawMessage
	Sort         json.RawMessage
	ResultsLimit *int
	QueryDigest  string
	// CanonicalQuery is the query's canonical form (schema.Canonical), for the manifest.
	CanonicalQuery json.RawMessage
	// IDs are the objects the delete will take, in the order it takes them.
	IDs     []string
	Timeout time.Duration
	// Progress hears how the export advances; nil when nobody listens.
	Progress func(BackupProgress)
}

// BackupProgress is one step of a backup.
type BackupProgress struct {
	Stage   string // export, download, verify
	Message string
	Done    int
	Total   int
}

// BackupInfo names a verified backup; it goes into the audit record and the receipt.
type BackupInfo struct {
	ID     string         `json:"id"`
	Path   string         `json:"path"`
	SHA256 string         `json:"sha256"`
	Bytes  int64          `json:"bytes"`
	Counts map[string]int `json:"counts,omitempty"`
}

// Backups take backups and learn which job each was for.
type Backups interface {
	Take(ctx context.Context, cl *closeapi.Client, req BackupRequest) (*BackupInfo, error)
	SetJob(backupID, jobID string) error
}

// Errors a Backups wraps so the refusal can say which way the backup failed.
var (
	// ErrBackupMismatch: the copy does not hold exactly the expected objects.
	ErrBackupMismatch = errors.New("the backup does not hold exactly the objects the delete will take")
	// ErrBackupTimeout: the backup did not finish in time.
	ErrBackupTimeout = errors.New("the backup did not finish in time")
)

type progressKey struct{}

// WithBackupProgress returns a context whose Create reports backup progress to fn (the tools
// layer turns it into MCP progress notifications when the client sent a progress token).
func WithBackupProgress(ctx context.Context, fn func(BackupProgress)) context.Context {
	return context.WithValue(ctx, progressKey{}, fn)
}

func backupProgress(ctx context.Context) func(BackupProgress) {
	fn, _ := ctx.Value(progressKey{}).(func(BackupProgress))
	return fn
}

// backupWarnings are the preview's warnings about the backup.
func (g *Guard) backupWarnings() []string {
	if g.policy.Backup == BackupOff {
		return []string{noBackupWarning}
	}
	return nil
}

// takeBackup runs the backup step of Create with the ids the delete will take (known, or
// read here when nil). It returns nil info with BackupOff, the info of a verified backup, or a
// refusal (nothing sent; the plan is released so the same confirmation can be tried again).
func (g *Guard) takeBackup(ctx context.Context, cl *closeapi.Client, plan *Plan, sent int, known []string) (*BackupInfo, *Refusal) {
	if g.policy.Backup == BackupOff {
		return nil, nil
	}
	// The identity check read every id when the plan kept them all; otherwise they are read
	// here, in the delete's order.
	ids, err := known, error(nil)
	if ids == nil {
		ids, err = idsToDelete(ctx, cl, plan, sent)
	}
	if err != nil {
		return nil, &Refusal{Code: CodeBackupFailed,
			Problem: "the ids the delete will take could not be fetched for the backup (" + err.Error() + "), so the bulk delete was not sent",
			Next:    "Call create_bulk_delete again with the same plan_id and confirmation in a moment."}
	}
	canonical := json.RawMessage(nil)
	if n, _, err := schema.DecodeNode(plan.Request.SQuery); err == nil {
		canonical = schema.Canonical(n)
	}
	info, err := g.backups.Take(ctx, cl, BackupRequest{
		PlanID: plan.ID, Principal: plan.Principal, ObjectType: plan.ObjectType,
		SQuery: plan.Request.SQuery, Sort: plan.Request.Sort, ResultsLimit: intp(sent),
		QueryDigest: plan.QueryDigest, CanonicalQuery: canonical, IDs: ids,
		Timeout: g.policy.BackupTimeout, Progress: backupProgress(ctx),
	})
	if err == nil {
		return info, nil
	}
	r := &Refusal{Code: CodeBackupFailed,
		Problem: "the backup before the delete failed (" + err.Error() + "), so the bulk delete was not sent",
		Next:    "Call create_bulk_delete again with the same plan_id and confirmation; if it keeps failing, ask the operator (the backup directory, --backup-timeout, or --backup off to delete without a backup)."}
	switch {
	case errors.Is(err, ErrBackupMismatch):
		r.Code = CodeBackupMismatch
		r.Problem = "the backup Close exported does not hold exactly the " + plural(len(ids), plan.ObjectType) + " the delete will take (" + err.Error() + "), so the bulk delete was not sent"
		r.Next = "The objects may have changed since the preview, or Close's search index may lag; call create_bulk_delete again in a minute, or preview again."
	case errors.Is(err, ErrBackupTimeout), errors.Is(err, context.DeadlineExceeded):
		r.Code = CodeBackupTimeout
		r.Problem = fmt.Sprintf("the backup before the delete did not finish within %s (%s), so the bulk delete was not sent", g.policy.BackupTimeout, err.Error())
		r.Next = "Try again later, narrow the query, or ask the operator to raise --backup-timeout."
	}
	return nil, r
}

// idsToDelete fetches the ids a delete with the plan's query, sort and results_limit takes:
// the first `sent` matches in that order (the same pages /data/search/ gives the preview).
func idsToDelete(ctx context.Context, cl *closeapi.Client, plan *Plan, sent int) ([]string, error) {
	items, err := cl.Sample(ctx, plan.Request.SQuery, plan.Request.Sort, plan.ObjectType, sent)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	return ids, nil
}
