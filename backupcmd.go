package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// `bulkguard backups` lists the backups taken before deletes; `bulkguard restore BACKUP`
// restores one for an operator without an MCP client (docs/close-backup.md). Both read the
// same backup directory as the server; restore talks to Close with CLOSE_API_KEY and records
// every step in the same audit log.

type backupsConfig struct {
	BackupDir string
	JSON      bool
}

func newBackupsFlags(cfg *backupsConfig) *cliFlags {
	c := newCLIFlags("bulkguard backups")
	c.str(&cfg.BackupDir, "backup-dir", "BULKGUARD_BACKUP_DIR", defaultBackupDir(), "backup `directory`")
	c.boolean(&cfg.JSON, "json", "", "print the manifests as JSON lines instead of a table")
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, "Usage: bulkguard backups [flags]\n\nLists the backups taken before bulk deletes, newest first.\n\n")
		c.printFlags(w, "Flags", "")
	}
	return c
}

func runBackups(args []string, stdout, stderr io.Writer) int {
	cfg := &backupsConfig{}
	c := newBackupsFlags(cfg)
	if err := c.parse(args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return 0
		}
		return reportUsage(stderr, err, "bulkguard backups --help")
	}
	s, err := backup.Open(cfg.BackupDir)
	if err != nil {
		return reportUsage(stderr, fmt.Errorf("%w: --backup-dir: %v", errUsage, err), "bulkguard backups --help")
	}
	list, err := s.List()
	if err != nil {
		fmt.Fprintf(stderr, "bulkguard: %v\n", err)
		return 1
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		for i := range list {
			if err := enc.Encode(&list[i]); err != nil {
				return 1
			}
		}
		return 0
	}
	if len(list) == 0 {
		fmt.Fprintf(stdout, "No backups in %s.\n", s.Dir())
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKUP\tSTATE\tSOURCE\tOBJECTS\tJOB\tTAKEN")
	for _, m := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d %ss\t%s\t%s\n", m.ID, m.State, m.Source, len(m.IDs), m.ObjectType, dash(m.JobID), m.Created.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	fmt.Fprintf(stdout, "\n%d backups in %s. Restore one with: bulkguard restore BACKUP\n", len(list), s.Dir())
	return 0
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

type restoreConfig struct {
	BackupDir  string
	CloseURL   string
	AuditLog   string
	Confirm    string
	ObjectType string
	DryRun     bool
}

func newRestoreFlags(cfg *restoreConfig) *cliFlags {
	c := newCLIFlags("bulkguard restore")
	c.str(&cfg.BackupDir, "backup-dir", "BULKGUARD_BACKUP_DIR", defaultBackupDir(), "backup `directory`")
	c.str(&cfg.CloseURL, "close-url", "BULKGUARD_CLOSE_URL", closeapi.DefaultBaseURL, "Close API base `URL` (the key is CLOSE_API_KEY)")
	c.str(&cfg.AuditLog, "audit-log", "BULKGUARD_AUDIT_LOG", guards.DefaultAuditPath(), "audit log `path`")
	c.str(&cfg.Confirm, "confirm", "", "", "the confirmation `phrase` the dry run names (RESTORE 42 LEADS); without it, it is asked for on the terminal")
	c.str(&cfg.ObjectType, "object-type", "", "lead", "for a job without a backup: what it deleted, `lead` or contact (read from Close's event log)")
	c.boolean(&cfg.DryRun, "dry-run", "", "only say what the restore would create and what it cannot")
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, `Usage: bulkguard restore BACKUP [flags]

Recreates in Close what a bulk delete removed, from its backup (a bkp_… id from
"bulkguard backups", or the bulkdelete_… job id; a job without a backup is read
from Close's event log). Shows the dry run, then asks for its phrase. A restore
that stops can be run again: it continues where it stopped and creates nothing
twice.

Environment:
  CLOSE_API_KEY
        Close API key of the organization to restore into (required)

`)
		c.printFlags(w, "Flags", "")
	}
	return c
}

func runRestore(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg := &restoreConfig{}
	c := newRestoreFlags(cfg)
	ref := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ref, args = args[0], args[1:]
	}
	if err := c.parse(args, os.LookupEnv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return 0
		}
		return reportUsage(stderr, err, "bulkguard restore --help")
	}
	if ref == "" {
		return reportUsage(stderr, fmt.Errorf("%w: name the backup: bulkguard restore BACKUP (see bulkguard backups)", errUsage), "bulkguard restore --help")
	}
	if cfg.ObjectType != "lead" && cfg.ObjectType != "contact" {
		return reportUsage(stderr, fmt.Errorf("%w: --object-type %q: want lead or contact", errUsage, cfg.ObjectType), "bulkguard restore --help")
	}
	key, _ := os.LookupEnv(envCloseAPIKey)
	key = strings.TrimSpace(key)
	if key == "" {
		return reportUsage(stderr, fmt.Errorf("%w: CLOSE_API_KEY is not set: a restore writes to Close and needs the key of the organization to restore into", errUsage), "bulkguard restore --help")
	}
	cl, err := closeapi.New(closeapi.Options{BaseURL: cfg.CloseURL, APIKey: key, Version: buildVersion()})
	if err != nil {
		return reportUsage(stderr, fmt.Errorf("%w: %v", errUsage, err), "bulkguard restore --help")
	}
	s, err := backup.Open(cfg.BackupDir)
	if err != nil {
		return reportUsage(stderr, fmt.Errorf("%w: --backup-dir: %v", errUsage, err), "bulkguard restore --help")
	}
	if err := restoreCLI(ctx, cl, s, ref, cfg, stdin, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "bulkguard: %v\n", err)
		return 1
	}
	return 0
}

func restoreCLI(ctx context.Context, cl *closeapi.Client, s *backup.Store, ref string, cfg *restoreConfig, stdin io.Reader, stdout, stderr io.Writer) error {
	m, err := s.Find(ref)
	if errors.Is(err, backup.ErrNotFound) && !backup.ValidID(ref) {
		fmt.Fprintf(stderr, "No backup was taken for %s; reading Close's event log…\n", ref)
		m, err = s.FromEventLog(ctx, cl, backup.EventLogRequest{JobID: ref, ObjectType: cfg.ObjectType, Principal: cl.Principal()})
	}
	if err != nil {
		return err
	}
	if m.Principal != "" && m.Principal != cl.Principal() {
		return fmt.Errorf("backup %s was taken with a different Close credential; restore it with that one", m.ID)
	}
	plan, err := s.PlanRestore(m.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Backup %s (%s, %s): %d %ss.\n", m.ID, m.State, m.Source, plan.Units, m.ObjectType)
	fmt.Fprintf(stdout, "Would create: %s (%d requests).\n", counts(plan.Create), plan.Requests)
	if len(plan.AlreadyRestored) > 0 {
		fmt.Fprintf(stdout, "Already restored by an earlier run: %s.\n", counts(plan.AlreadyRestored))
	}
	if len(plan.NotRestored) > 0 {
		fmt.Fprintf(stdout, "In the backup but not restorable: %s.\n", counts(plan.NotRestored))
	}
	fmt.Fprintln(stdout, "No restore brings back:")
	for _, c := range plan.Cannot {
		fmt.Fprintf(stdout, "  - %s\n", c)
	}
	if cfg.DryRun {
		fmt.Fprintf(stdout, "Dry run: nothing was changed. To restore, type %s when asked, or pass --confirm %q.\n", plan.Phrase, plan.Phrase)
		return nil
	}
	typed := cfg.Confirm
	if typed == "" {
		fmt.Fprintf(stdout, "Type %s to restore: ", plan.Phrase)
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("no confirmation was typed; nothing was restored")
		}
		typed = strings.TrimSpace(line)
	}
	audit, err := guards.OpenAuditLog(cfg.AuditLog)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	defer audit.Close()
	g, err := guards.New(guards.Config{Audit: audit, Environment: "close", Policy: guards.Policy{Backup: guards.BackupOff, Confirm: guards.ConfirmPhrase}})
	if err != nil {
		return err
	}
	principal := cl.Principal()
	if _, err := g.ConfirmRestore(principal, m.ID, plan.Phrase, guards.Confirmation{By: guards.ConfirmedByPhrase, Phrase: typed}); err != nil {
		return err
	}
	res, err := s.Restore(ctx, cl, m.ID, backup.RestoreOptions{Progress: func(st backup.RestoreStep) {
		g.RecordRestore(principal, m.ID, guards.EventRestoreStep, st.Outcome, st.Kind+" "+st.Old+" "+st.New+" "+st.Error)
		if st.Outcome == "failed" || st.Done == st.Total || st.Done%50 == 0 {
			fmt.Fprintf(stderr, "  %d/%d %s %s %s\n", st.Done, st.Total, st.Outcome, st.Kind, st.Old)
		}
	}})
	if res != nil {
		fmt.Fprintf(stdout, "Restore %s: created %s; %d skipped (done before), %d found after a lost answer, %d failed. Journal: %s\n",
			res.State, counts(res.Created), res.Skipped, res.Adopted, len(res.Failed), res.Journal)
		for _, f := range res.Failed {
			fmt.Fprintf(stdout, "  failed: %s %s: %s\n", f.Kind, f.Old, f.Error)
		}
		outcome := res.State
		if err != nil {
			outcome = "stopped"
		}
		g.RecordRestore(principal, m.ID, guards.EventRestore, outcome, fmt.Sprintf("created %s, %d failed", counts(res.Created), len(res.Failed)))
	}
	return err
}

func counts(m map[string]int) string {
	if len(m) == 0 {
		return "nothing"
	}
	b, _ := json.Marshal(m)
	return strings.NewReplacer(`"`, "", "{", "", "}", "", ":", " ", ",", ", ").Replace(string(b))
}
