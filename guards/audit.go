package guards

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
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
// query's digest and plain-English summary rather than the raw query.
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
	Total       *int      `json:"total,omitempty"`
	WillDelete  *int      `json:"will_delete,omitempty"`
	// Recounted and ResultsLimitSent are set on create records.
	Recounted        *int   `json:"recounted,omitempty"`
	ResultsLimitSent *int   `json:"results_limit_sent,omitempty"`
	JobID            string `json:"job_id,omitempty"`
	Outcome          string `json:"outcome,omitempty"`
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

	mu     sync.Mutex
	f      *os.File
	closed bool
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
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("guards: create audit log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("guards: open audit log: %w", err)
	}
	return &AuditLog{path: path, f: f}, nil
}

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
	if _, err := a.f.Write(line); err != nil {
		return "", fmt.Errorf("guards: write audit log: %w", err)
	}
	if err := a.f.Sync(); err != nil {
		return "", fmt.Errorf("guards: sync audit log: %w", err)
	}
	return r.ID, nil
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
