package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWalkthrough runs the walkthrough the way the README tells people to
// (go run), with a Close key in the environment to show it never leaves the
// sandbox, and checks that it exits 0 and narrates every step.
func TestWalkthrough(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// A faster delete rate than the default keeps the test short; the
	// progress bar still prints its last line.
	cmd := exec.CommandContext(ctx, "go", "run", ".", "-delete-rate", "400")
	cmd.Env = append(os.Environ(), "CLOSE_API_KEY=api_walkthrough_must_not_use_this", "BULKGUARD_TRANSPORT=http")
	out, err := cmd.CombinedOutput()
	s := string(out)
	if err != nil {
		t.Fatalf("go run ./examples/walkthrough: %v\n%s", err, s)
	}
	if strings.Contains(s, "\x1b[") {
		t.Errorf("colour codes in output that is not a terminal:\n%q", s)
	}
	m := regexp.MustCompile(`phrase:\s+(DELETE (\d+) LEADS)`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no confirmation phrase in the preview:\n%s", s)
	}
	phrase, n := m[1], m[2]
	job := regexp.MustCompile(`job (bulkdelete_[A-Za-z0-9]+) started`).FindStringSubmatch(s)
	if job == nil {
		t.Fatalf("no job started:\n%s", s)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`connected to bulkguard .* 9 tools`),
		regexp.MustCompile(`→ lookup_close_ids \{"kind":"lead_statuses"\}`),
		regexp.MustCompile(`✓ "Bad Fit" is stat_[A-Za-z0-9]+`),
		regexp.MustCompile(`→ preview_bulk_delete`),
		regexp.MustCompile(`environment:\s+sandbox`),
		regexp.MustCompile(`summary:\s+leads whose status is .* and whose created date is before the start of the day 1 year ago`),
		regexp.MustCompile(`count:\s+` + n + ` leads match; ` + n + ` would be deleted`),
		regexp.MustCompile(`bulkguard asks you to confirm`),
		regexp.MustCompile(`you type: ` + phrase),
		regexp.MustCompile(`confirmed by elicitation`),
		regexp.MustCompile(`recounted ` + n + ` just before sending, results_limit sent ` + n),
		regexp.MustCompile(`100\.0%\s+` + n + `/` + n + ` leads deleted`),
		regexp.MustCompile(`status:\s+"done"`),
		regexp.MustCompile(`n_objects_processed:\s+` + n),
		regexp.MustCompile(`audit_\S+ create\s+plan=plan_\S+ job=` + job[1] + ` outcome=sent`),
		regexp.MustCompile(`(?m)^▸ Done\.$`),
	} {
		if !want.MatchString(s) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", s)
	}
}
