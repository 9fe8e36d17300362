package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// backups is the backup package seen through the guard's interface (guards.Backups): the guard
// never imports it, so the wiring adapts one to the other here.
type backups struct{ s *backup.Store }

func (b backups) Take(ctx context.Context, cl *closeapi.Client, req guards.BackupRequest) (*guards.BackupInfo, error) {
	m, err := b.s.Take(ctx, cl, backup.Request{
		PlanID: req.PlanID, Principal: req.Principal, ObjectType: req.ObjectType,
		SQuery: req.SQuery, Sort: req.Sort, ResultsLimit: req.ResultsLimit,
		QueryDigest: req.QueryDigest, CanonicalQuery: req.CanonicalQuery, IDs: req.IDs,
		Timeout: req.Timeout,
		Progress: func(p backup.Progress) {
			if req.Progress != nil {
				req.Progress(guards.BackupProgress{Stage: p.Stage, Message: p.Message, Done: p.Done, Total: p.Total})
			}
		},
	})
	if err != nil {
		var me *backup.MismatchError
		var te *backup.TimeoutError
		var xe *closeapi.ExportTimeoutError
		switch {
		case errors.As(err, &me):
			return nil, kindOf{err, guards.ErrBackupMismatch}
		case errors.As(err, &te), errors.As(err, &xe):
			return nil, kindOf{err, guards.ErrBackupTimeout}
		}
		return nil, err
	}
	dir, err := b.s.Path(m.ID)
	if err != nil {
		return nil, err
	}
	return &guards.BackupInfo{ID: m.ID, Path: filepath.Join(dir, m.File), SHA256: m.SHA256, Bytes: m.Bytes, Counts: m.Counts}, nil
}

func (b backups) SetJob(backupID, jobID string) error { return b.s.SetJob(backupID, jobID) }

// kindOf is err, also matching a guards sentinel that says which way the backup failed.
type kindOf struct{ err, kind error }

func (k kindOf) Error() string   { return k.err.Error() }
func (k kindOf) Unwrap() []error { return []error{k.err, k.kind} }

// openBackups opens the backup directory: dir, or "backups" beside the audit log (which for
// the default audit path is the default backup directory, and keeps a test's backups in its
// temporary directory). With --backup off a directory that cannot be used is not fatal (there
// is then nothing to list or restore); with --backup required it is.
func openBackups(dir, auditLog string, mode guards.BackupMode) (*backup.Store, error) {
	if dir == "" {
		dir = filepath.Join(filepath.Dir(auditLog), "backups")
	}
	s, err := backup.Open(dir)
	if err != nil {
		if mode == guards.BackupOff {
			return nil, nil
		}
		return nil, fmt.Errorf("backup directory %s (--backup-dir; --backup off deletes without backups): %w", dir, err)
	}
	return s, nil
}
