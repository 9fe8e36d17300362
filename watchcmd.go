package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
)

// watchConfig is everything `bulkguard watch` is configured with.
type watchConfig struct {
	CloseURL string
	Interval time.Duration

	closeAPIKey string
}

const (
	defaultWatchInterval = 2 * time.Second
	minWatchInterval     = 100 * time.Millisecond
	maxWatchInterval     = time.Minute
	// watchMaxErrors is how many reads in a row may fail (after the
	// client's own retries) before watch gives up.
	watchMaxErrors = 3
	barWidth       = 30
)

func newWatchFlags(cfg *watchConfig) *cliFlags {
	c := newCLIFlags("bulkguard watch")
	c.maxArgs = 1
	c.str(&cfg.CloseURL, "close-url", "BULKGUARD_CLOSE_URL", closeapi.DefaultBaseURL, "Close API base `URL` (used with CLOSE_API_KEY)")
	c.duration(&cfg.Interval, "interval", "BULKGUARD_WATCH_INTERVAL", defaultWatchInterval, "how often to read the job (100ms to 1m)")
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, `Usage: bulkguard watch [flags] JOB

Follows a bulk-delete job (bulkdelete_...) until it is done or failed, with
a progress bar and an estimate of the time left on a terminal, and one line
per change otherwise. It reads the job with CLOSE_API_KEY; it never pauses,
resumes or deletes. Ctrl-C stops watching, not the job.
The built-in sandbox lives inside the bulkguard that serves it; to watch a
sandbox job, serve one with "bulkguard sandbox" and pass its --close-url.

`)
		c.printFlags(w, "Flags", "")
	}
	return c
}

func (cfg *watchConfig) validate() error {
	u, err := url.Parse(cfg.CloseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return badFlag("close-url", "--close-url %q: want an absolute http(s) URL such as %s", cfg.CloseURL, closeapi.DefaultBaseURL)
	}
	if cfg.Interval < minWatchInterval || cfg.Interval > maxWatchInterval {
		return badFlag("interval", "--interval %s: want a duration from %s to %s, e.g. 2s", cfg.Interval, minWatchInterval, maxWatchInterval)
	}
	return nil
}

func runWatch(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) int {
	cfg := &watchConfig{}
	c := newWatchFlags(cfg)
	if err := c.parse(args, lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return 0
		}
		return reportUsage(stderr, err, "bulkguard watch --help")
	}
	if err := c.explain(cfg.validate()); err != nil {
		return reportUsage(stderr, err, "bulkguard watch --help")
	}
	if c.fs.NArg() != 1 {
		return reportUsage(stderr, fmt.Errorf("%w: name the job: bulkguard watch bulkdelete_…", errUsage), "bulkguard watch --help")
	}
	id := c.fs.Arg(0)
	if err := closeapi.ValidateBulkDeleteID(id); err != nil {
		return reportUsage(stderr, fmt.Errorf("%w: %q is not a bulk-delete job id (bulkdelete_ followed by letters and digits)", errUsage, guards.Clip(id, 60)), "bulkguard watch --help")
	}
	if key, ok := lookup(envCloseAPIKey); ok {
		cfg.closeAPIKey = strings.TrimSpace(key)
	}
	if cfg.closeAPIKey == "" {
		return reportUsage(stderr, fmt.Errorf("%w: watch reads the job from Close and needs %s (for a \"bulkguard sandbox\", its key and --close-url)", errUsage, envCloseAPIKey), "bulkguard watch --help")
	}
	cl, err := closeapi.New(closeapi.Options{BaseURL: cfg.CloseURL, APIKey: cfg.closeAPIKey, Version: buildVersion()})
	if err != nil {
		return reportUsage(stderr, fmt.Errorf("%w: %v", errUsage, err), "bulkguard watch --help")
	}
	w := &watcher{out: stdout, tty: isTerminal(stdout), now: time.Now}
	return w.watch(ctx, cl, id, cfg.Interval, stderr)
}

// watcher renders one job's progress: a bar redrawn in place on a terminal,
// else a line whenever something changed.
type watcher struct {
	out  io.Writer
	tty  bool
	now  func() time.Time
	last string // the state last written (status and counts), to skip repeats

	// first is the first reading with a known total: the rate, and so the
	// estimate, is measured from there.
	first     time.Time
	firstDone int
	started   bool
}

func (w *watcher) watch(ctx context.Context, cl *closeapi.Client, id string, interval time.Duration, stderr io.Writer) int {
	failures := 0
	for {
		j, err := cl.GetBulkDelete(ctx, id)
		switch {
		case ctx.Err() != nil:
			w.finish()
			fmt.Fprintln(stderr, "bulkguard: stopped watching; the job goes on (pause_bulk_delete stops it)")
			return 130
		case closeapi.IsNotFound(err):
			w.finish()
			fmt.Fprintf(stderr, "bulkguard: no bulk-delete job %s at %s\n", id, cl.BaseURL())
			return 1
		case closeapi.IsUnauthorized(err):
			w.finish()
			fmt.Fprintf(stderr, "bulkguard: %s refused the key in %s (401)\n", cl.BaseURL(), envCloseAPIKey)
			return 1
		case err != nil:
			failures++
			if failures >= watchMaxErrors {
				w.finish()
				fmt.Fprintf(stderr, "bulkguard: %d reads of %s failed in a row, the last: %v\n", failures, id, err)
				return 1
			}
		default:
			failures = 0
			w.show(j)
			switch j.StatusString() {
			case guards.JobDone:
				w.finish()
				return 0
			case guards.JobError:
				w.finish()
				fmt.Fprintf(stderr, "bulkguard: job %s ended in error\n", id)
				return 1
			}
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}

// show writes the job's state: on a terminal at every reading (the
// estimate moves), else only when the status or the counts changed.
func (w *watcher) show(j *closeapi.BulkDelete) {
	line := w.render(j)
	done, total := jobCounts(j)
	state := fmt.Sprintf("%s %d", j.StatusString(), done)
	if total != nil {
		state += fmt.Sprintf("/%d", *total)
	}
	if w.tty {
		w.last = state
		// \r and clear-to-end-of-line redraw the bar in place.
		fmt.Fprintf(w.out, "\r%s\x1b[K", line)
		return
	}
	if state == w.last {
		return
	}
	w.last = state
	fmt.Fprintln(w.out, line)
}

// finish ends the bar's line on a terminal.
func (w *watcher) finish() {
	if w.tty && w.last != "" {
		fmt.Fprintln(w.out)
	}
}

// render is one reading: status, bar, counts, percent and the time left.
func (w *watcher) render(j *closeapi.BulkDelete) string {
	done, total := jobCounts(j)
	status := j.StatusString()
	if status == "" {
		status = "unknown"
	}
	if total == nil {
		return fmt.Sprintf("%s  %-10s  %d processed, total not known yet", j.ID, status, done)
	}
	pct := 100.0
	if *total > 0 {
		pct = float64(done) * 100 / float64(*total)
	}
	filled := min(barWidth, int(pct*barWidth/100))
	bar := "[" + strings.Repeat("#", filled) + strings.Repeat(".", barWidth-filled) + "]"
	line := fmt.Sprintf("%s  %-10s  %s %5.1f%%  %d/%d", j.ID, status, bar, pct, done, *total)
	if eta, ok := w.eta(done, *total, status); ok {
		line += "  ETA " + eta
	}
	return line
}

// eta estimates the time left from the rate since the first reading. It
// says nothing until the job has moved, and nothing while it is paused.
func (w *watcher) eta(done, total int, status string) (string, bool) {
	now := w.now()
	if !w.started {
		w.started, w.first, w.firstDone = true, now, done
		return "", false
	}
	if guards.JobFinished(status) || status == guards.JobPaused || done >= total {
		return "", false
	}
	elapsed := now.Sub(w.first)
	moved := done - w.firstDone
	if moved <= 0 || elapsed <= 0 {
		return "", false
	}
	left := time.Duration(float64(elapsed) * float64(total-done) / float64(moved))
	return left.Round(time.Second).String(), true
}

// jobCounts is a job's processed count and its total, when Close knows it:
// n_objects once matching is over, n_leads for lead jobs before that
// (docs/close-api.md §1.3).
func jobCounts(j *closeapi.BulkDelete) (int, *int) {
	if j.NObjects != nil {
		return j.NObjectsProcessed, j.NObjects
	}
	if j.NLeads != nil {
		return max(j.NObjectsProcessed, j.NLeadsProcessed), j.NLeads
	}
	return j.NObjectsProcessed, nil
}
