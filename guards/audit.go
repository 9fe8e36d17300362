package guards

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Audit events.
const (
	EventPreview      = "preview"
	EventCreateIntent = "create.intent"
	EventCreate       = "create"
	EventRefusal      = "refusal"
	EventPause        = "pause"
	EventResume       = "resume"
)

// AuditRecord is one line of the audit log. It carries the principal's
// fingerprint (closeapi.Client.Principal), never a credential, and the
// query's digest and plain-English summary; create records also carry the
// query itself (canonical, so sha256 of it is query_digest), the sort and
// results_limit, so that what a job was told to delete can be read back
// from the log alone.
type AuditRecord struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Event       string    `json:"event"`
	PlanID      string    `json:"plan_id,omitempty"`
	Principal   string    `json:"principal,omitempty"`
	Environment string    `json:"environment,omitempty"`
	ObjectType  string    `json:"object_type,omitempty"`
	QueryDigest string    `json:"query_digest,omitempty"`
	Summary     string    `json:"summary,omitempty"`
	// SQuery (canonical, schema.Canonical), Sort (as sent) and ResultsLimit
	// (as previewed; ResultsLimitSent is the cap sent) are set on create
	// records.
	SQuery       json.RawMessage `json:"s_query,omitempty"`
	Sort         json.RawMessage `json:"sort,omitempty"`
	ResultsLimit *int            `json:"results_limit,omitempty"`
	Total        *int            `json:"total,omitempty"`
	WillDelete   *int            `json:"will_delete,omitempty"`
	// Recounted and ResultsLimitSent are set on create records.
	Recounted        *int `json:"recounted,omitempty"`
	ResultsLimitSent *int `json:"results_limit_sent,omitempty"`
	// IDs are the ids the person was shown and the delete may take (create
	// records of plans that kept them all, sorted), with their digest;
	// SampleIDs stand in for them on larger plans.
	IDs       []string `json:"ids,omitempty"`
	IDsDigest string   `json:"ids_digest,omitempty"`
	SampleIDs []string `json:"sample_ids,omitempty"`
	JobID     string   `json:"job_id,omitempty"`
	// CandidateJobIDs are the jobs a lost create may have made when there
	// were several (none was adopted).
	CandidateJobIDs []string `json:"candidate_job_ids,omitempty"`
	Outcome         string   `json:"outcome,omitempty"`
	// Code is the refusal code on refusal records.
	Code   string `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Subject is the person who made the call, when an authorization
	// server vouched for one (see WithSubject).
	Subject string `json:"subject,omitempty"`
	// Backup names the verified backup a create was preceded by.
	Backup *AuditBackup `json:"backup,omitempty"`
}

// AuditBackup is where a delete's backup is and what it must hash to.
type AuditBackup struct {
	ID     string `json:"id"`
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
}

// AuditLog appends JSON lines to a file, one fsync per record, under a
// mutex so concurrent records never interleave. A record that returned
// without error is on disk.
type AuditLog struct {
	path string
	// tightened is the mode an existing file had when OpenAuditLog found
	// it readable by others and set it to 0600; 0 otherwise.
	tightened os.FileMode

	mu     sync.Mutex
	f      *os.File
	closed bool
	// broken is set when a failed write left part of a record that could
	// not be cut off: every later record would be glued to it, so nothing
	// more is written (and so nothing is deleted) until the file is fixed.
	broken error
}

// DefaultAuditPath is $XDG_STATE_HOME/bulkguard/audit.jsonl, falling back to
// ~/.local/state/bulkguard/audit.jsonl as the XDG base-directory spec says.
// When neither can be worked out it returns a relative "bulkguard-audit.jsonl".
func DefaultAuditPath() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "bulkguard", "audit.jsonl")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".local", "state", "bulkguard", "audit.jsonl")
	}
	return "bulkguard-audit.jsonl"
}

// OpenAuditLog opens (creating as needed) the log at path: directories 0700
// and the file 0600, because the log names queries and people's data.
// The file is opened O_APPEND so records from several processes never
// overwrite one another.
func OpenAuditLog(path string) (*AuditLog, error) {
	if path == "" {
		return nil, errors.New("guards: audit log path is empty")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil { //nolint:gosec // G703: the operator chose this path (--audit-log)
		return nil, fmt.Errorf("guards: create audit log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) //nolint:gosec // G703: as above
	if err != nil {
		return nil, fmt.Errorf("guards: open audit log: %w", err)
	}
	a := &AuditLog{path: path, f: f}
	// An existing file keeps its mode through O_CREATE: one made 0644 (by
	// hand, or by an older version) would stay readable by everyone.
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("guards: stat audit log: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("guards: audit log %s is mode %#o (readable by others) and could not be set to 0600: %w", path, perm, err)
		}
		a.tightened = perm
	}
	return a, nil
}

// Tightened reports the mode the file had when OpenAuditLog found it
// readable by others and set it to 0600, so the caller can say so.
func (a *AuditLog) Tightened() (was os.FileMode, ok bool) { return a.tightened, a.tightened != 0 }

// Path is where the log is written.
func (a *AuditLog) Path() string { return a.path }

// Append writes r as one line and fsyncs it. It fills in ID (when empty) and
// Time (when zero) and returns the ID.
func (a *AuditLog) Append(r AuditRecord) (string, error) {
	if r.ID == "" {
		r.ID = "audit_" + randomBase62(20)
	}
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	line, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("guards: encode audit record: %w", err)
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return "", errors.New("guards: audit log is closed")
	}
	if a.broken != nil {
		return "", a.broken
	}
	if err := a.write(line); err != nil {
		return "", err
	}
	if err := a.f.Sync(); err != nil {
		return "", fmt.Errorf("guards: sync audit log: %w", err)
	}
	return r.ID, nil
}

// write appends line with one write. A short write (a file-size limit, a
// full disk) leaves part of the record; the file is cut back to where it
// ended before, so the next record does not start glued to a fragment and
// the log stays readable line by line. Another process appending between
// the two steps would make the cut unsafe: then the fragment is only ended
// with a newline (that one line is unreadable, the ones after it are not).
func (a *AuditLog) write(line []byte) error {
	start, err := a.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("guards: write audit log: %w", err)
	}
	n, err := a.f.Write(line)
	if err == nil {
		return nil
	}
	werr := fmt.Errorf("guards: write audit log (the record was not kept): %w", err)
	if n == 0 {
		return werr
	}
	end, serr := a.f.Seek(0, io.SeekEnd)
	switch {
	case serr == nil && end == start+int64(n):
		if terr := a.f.Truncate(start); terr == nil {
			return werr
		}
	case serr == nil:
		if _, nerr := a.f.Write([]byte("\n")); nerr == nil {
			return werr
		}
	}
	a.broken = fmt.Errorf("guards: audit log %s ends in part of a record (byte %d on) that could not be removed after a failed write (%v); remove it, then restart", a.path, start, err)
	return a.broken
}

// Close closes the file. Later appends fail, and so a guard whose log is
// closed refuses to create.
func (a *AuditLog) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	return a.f.Close()
}

// ReadAuditLog reads every record of the log at path.
func ReadAuditLog(path string) ([]AuditRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []AuditRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var r AuditRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return out, fmt.Errorf("guards: audit log line %d: %w", n, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
