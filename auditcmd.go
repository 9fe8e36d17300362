package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/guards"
)

// auditConfig is everything `bulkguard audit` is configured with.
type auditConfig struct {
	AuditLog string
	Job      string
	Plan     string
	Event    string
	Since    string
	Until    string
	JSON     bool

	since, until time.Time
}

// auditEvents are the events a record can have, for --event.
var auditEvents = []string{guards.EventPreview, guards.EventCreateIntent, guards.EventCreate, guards.EventRefusal, guards.EventPause, guards.EventResume}

func newAuditFlags(cfg *auditConfig) *cliFlags {
	c := newCLIFlags("bulkguard audit")
	c.str(&cfg.AuditLog, "audit-log", "BULKGUARD_AUDIT_LOG", guards.DefaultAuditPath(), "audit log `path` to read (the server's --audit-log)")
	c.str(&cfg.Job, "job", "", "", "only the records of this bulk-delete `id`, and of the plan that started it")
	c.str(&cfg.Plan, "plan", "", "", "only the records of this plan `id`")
	c.str(&cfg.Event, "event", "", "", "only this `event`: "+strings.Join(auditEvents, ", "))
	c.str(&cfg.Since, "since", "", "", "only records at or after this `time`: 2026-11-30, 2026-11-30T14:00:00Z, or a duration back from now such as 24h")
	c.str(&cfg.Until, "until", "", "", "only records before this `time` (same forms as --since)")
	c.boolean(&cfg.JSON, "json", "", "print the matching records as JSON lines instead of a table")
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, `Usage: bulkguard audit [flags]

Prints the audit log (one line per preview, create, refusal, pause and
resume), oldest first, optionally filtered. Filters combine with "and".

`)
		c.printFlags(w, "Flags", "")
	}
	return c
}

func runAudit(args []string, lookup func(string) (string, bool), now time.Time, stdout, stderr io.Writer) int {
	cfg := &auditConfig{}
	c := newAuditFlags(cfg)
	if err := c.parse(args, lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return 0
		}
		return reportUsage(stderr, err, "bulkguard audit --help")
	}
	if err := c.explain(cfg.validate(now)); err != nil {
		return reportUsage(stderr, err, "bulkguard audit --help")
	}
	recs, err := guards.ReadAuditLog(cfg.AuditLog)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(stderr, "bulkguard: no audit log at %s yet (nothing recorded there); point --audit-log or BULKGUARD_AUDIT_LOG at the server's\n", cfg.AuditLog)
		return 1
	}
	if err != nil && len(recs) == 0 {
		fmt.Fprintf(stderr, "bulkguard: read %s: %v\n", cfg.AuditLog, err)
		return 1
	}
	shown := cfg.filter(recs)
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		for _, r := range shown {
			if err := enc.Encode(r); err != nil {
				fmt.Fprintf(stderr, "bulkguard: %v\n", err)
				return 1
			}
		}
	} else {
		for _, r := range shown {
			fmt.Fprintln(stdout, auditLine(r))
		}
		fmt.Fprintf(stdout, "%d of %d records in %s\n", len(shown), len(recs), cfg.AuditLog)
	}
	if err != nil {
		// A torn last line (a crash mid-write) must not hide the records
		// before it; it is reported after them.
		fmt.Fprintf(stderr, "bulkguard: %s: %v (the records before it are shown)\n", cfg.AuditLog, err)
		return 1
	}
	return 0
}

func (cfg *auditConfig) validate(now time.Time) error {
	if strings.TrimSpace(cfg.AuditLog) == "" {
		return badFlag("audit-log", "--audit-log: want a file path")
	}
	if cfg.Event != "" && !slices.Contains(auditEvents, cfg.Event) {
		return badFlag("event", "--event %q: want one of %s", cfg.Event, strings.Join(auditEvents, ", "))
	}
	var err error
	if cfg.since, err = parseWhen(cfg.Since, now); err != nil {
		return badFlag("since", "--since %q: %v", cfg.Since, err)
	}
	if cfg.until, err = parseWhen(cfg.Until, now); err != nil {
		return badFlag("until", "--until %q: %v", cfg.Until, err)
	}
	if !cfg.since.IsZero() && !cfg.until.IsZero() && !cfg.until.After(cfg.since) {
		return badFlag("until", "--until %s is not after --since %s", cfg.Until, cfg.Since)
	}
	return nil
}

// parseWhen reads a point in time: RFC 3339, a date or date and minute (UTC),
// or a duration back from now. Empty is the zero time (no bound).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02 15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("want a time such as 2026-11-30, 2026-11-30T14:00 (UTC) or 2026-11-30T14:00:00+01:00, or a duration back from now such as 24h or 90m")
}

// filter keeps the records that pass every filter. --job also keeps the
// records of the plans that started the job (the preview and the intent
// before the job id existed), so one job's story reads whole.
func (cfg *auditConfig) filter(recs []guards.AuditRecord) []guards.AuditRecord {
	plans := map[string]bool{}
	if cfg.Job != "" {
		for _, r := range recs {
			if r.JobID == cfg.Job && r.PlanID != "" {
				plans[r.PlanID] = true
			}
		}
	}
	var out []guards.AuditRecord
	for _, r := range recs {
		switch {
		case cfg.Job != "" && r.JobID != cfg.Job && !plans[r.PlanID]:
		case cfg.Plan != "" && r.PlanID != cfg.Plan:
		case cfg.Event != "" && r.Event != cfg.Event:
		case !cfg.since.IsZero() && r.Time.Before(cfg.since):
		case !cfg.until.IsZero() && !r.Time.Before(cfg.until):
		default:
			out = append(out, r)
		}
	}
	return out
}

// auditLine is one record for people: when, what, which plan and job, the
// numbers, and the outcome or refusal.
func auditLine(r guards.AuditRecord) string {
	parts := []string{r.Time.UTC().Format("2006-01-02 15:04:05Z"), fmt.Sprintf("%-13s", r.Event)}
	add := func(format string, a ...any) { parts = append(parts, fmt.Sprintf(format, a...)) }
	if r.Environment != "" {
		add("[%s]", r.Environment)
	}
	if r.PlanID != "" {
		add("plan %s", r.PlanID)
	}
	if r.JobID != "" {
		add("job %s", r.JobID)
	}
	if r.ObjectType != "" {
		add("%s", r.ObjectType)
	}
	if r.Total != nil {
		add("matched %d", *r.Total)
	}
	if r.WillDelete != nil {
		add("will delete %d", *r.WillDelete)
	}
	if r.Recounted != nil {
		add("recounted %d", *r.Recounted)
	}
	if r.ResultsLimitSent != nil {
		add("limit sent %d", *r.ResultsLimitSent)
	}
	if r.Outcome != "" {
		add("→ %s", r.Outcome)
	}
	if r.Code != "" {
		add("refused %s: %s", r.Code, r.Reason)
	} else if r.Reason != "" {
		add("(%s)", r.Reason)
	}
	if r.Summary != "" {
		add("%q", guards.Clip(r.Summary, 120))
	}
	return strings.Join(parts, "  ")
}

// lookupEnv is the process environment as cliFlags reads it.
func lookupEnv(environ []string) func(string) (string, bool) {
	m := envMap(environ)
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
