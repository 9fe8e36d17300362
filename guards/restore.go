package guards

import (
	"strings"
)

// Restoring a backup (docs/close-backup.md) recreates objects, so it is confirmed like a
// delete: the person types the phrase the dry run names ("RESTORE 42 LEADS"), through the
// client's form or as the confirm argument, by the same rules as create. The restore itself is
// the backup package's; the guard judges the confirmation and keeps the audit record, one line
// per step.

// Audit events of a restore.
const (
	EventRestoreIntent = "restore.intent"
	EventRestoreStep   = "restore.step"
	EventRestore       = "restore"
)

// PurposeRestore seals the confirmation of a restore.
const PurposeRestore = "restore"

// BeginRestore says what the person must confirm to restore backupID: phrase (from the
// restore's dry run) and message, a plain account of what will be recreated. It changes
// nothing.
func (g *Guard) BeginRestore(backupID, phrase, message string) *Pending {
	return &Pending{Phrase: phrase, Message: message, Purpose: PurposeRestore, Target: backupID}
}

// ConfirmRestore checks the confirmation of a restore (same rules as create) and records the
// intent. A restore that cannot be recorded is refused; the returned id is the intent's.
func (g *Guard) ConfirmRestore(principal, backupID, phrase string, c Confirmation) (string, error) {
	rec := restoreRecord(principal, backupID)
	if r := g.checkConfirmation(c, phrase, "confirm a restore"); r != nil {
		return "", g.refuse(r, rec)
	}
	rec.Event, rec.Outcome, rec.Reason = EventRestoreIntent, "starting", "confirmed by "+c.By+": "+phrase
	id, err := g.audit(rec)
	if err != nil {
		return "", g.refuse(&Refusal{Code: CodeAuditUnavailable,
			Problem: "the audit log could not be written (" + err.Error() + "), so the restore was not started",
			Next:    "Ask the operator to fix the audit log, then call restore_bulk_delete again."}, rec)
	}
	return id, nil
}

// RecordRestore writes one record of a restore: a step (EventRestoreStep, outcome created,
// adopted, skipped or failed) or its end (EventRestore). Steps are best effort: a restore
// that has begun is better finished than stopped because one line could not be written, and
// its journal holds every step too.
func (g *Guard) RecordRestore(principal, backupID, event, outcome, reason string) {
	rec := restoreRecord(principal, backupID)
	rec.Event, rec.Outcome, rec.Reason = event, outcome, reason
	_, _ = g.audit(rec)
}

func restoreRecord(principal, backupID string) AuditRecord {
	return AuditRecord{Principal: principal, Backup: &AuditBackup{ID: Clip(backupID, 80)}}
}

func isBackupTarget(target string) bool { return strings.HasPrefix(target, "bkp_") }
