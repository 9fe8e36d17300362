// Package backup keeps a verified copy of what a bulk delete is about to remove, and brings it
// back. Take asks Close for an export of exactly the objects the delete will take, downloads it
// at once, checks that it holds exactly the expected ids and keeps it, as Close served it, in a
// backup directory with a manifest. A restore plans (a dry run: what will be recreated and what
// cannot be) and executes, recreating leads with their contacts and addresses, opportunities,
// tasks and activities through the Close API, with a journal of old → new ids beside the
// backup so that a retried or interrupted restore continues where it stopped and never creates
// anything twice. Where no backup exists, one can be assembled from Close's event log.
//
// The Close facts this relies on, and how sure each is, are in docs/close-backup.md.
//
// backup imports closeapi and schema only; the guard reaches it through a function the server
// wiring provides.
package backup

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// File names inside one backup's directory (docs/close-backup.md §6).
const (
	ManifestName = "manifest.json"
	ExportName   = "export.json.gz"
	JournalName  = "journal.jsonl"
)

// Backup states.
const (
	StateTaking    = "taking"    // the export is running
	StateReady     = "ready"     // verified and kept; nothing restored
	StateFailed    = "failed"    // no usable file; Error says why
	StateRestoring = "restoring" // a restore started and has not finished
	StateRestored  = "restored"  // every restorable object was recreated
	StatePartial   = "partially_restored"
)

// Sources of a backup.
const (
	SourceExport   = "export"    // a Close export taken before the delete
	SourceEventLog = "event_log" // assembled after the fact from deleted events
)

const manifestVersion = 1

// Manifest describes one backup. It is written atomically beside the file.
type Manifest struct {
	Version int    `json:"version"`
	ID      string `json:"id"`
	State   string `json:"state"`
	Source  string `json:"source"`
	Error   string `json:"error,omitempty"`

	PlanID    string `json:"plan_id,omitempty"`
	JobID     string `json:"job_id,omitempty"`
	Principal string `json:"principal,omitempty"`

	// ObjectType is what the delete takes: lead or contact.
	ObjectType     string          `json:"object_type"`
	QueryDigest    string          `json:"query_digest,omitempty"`
	CanonicalQuery json.RawMessage `json:"canonical_query,omitempty"`
	Sort           json.RawMessage `json:"sort,omitempty"`
	ResultsLimit   *int            `json:"results_limit"`
	// ExportQuery is the s_query sent to the export (for contacts, the parent leads).
	ExportQuery json.RawMessage `json:"export_query,omitempty"`
	ExportID    string          `json:"export_id,omitempty"`

	// IDs are the objects the delete takes (lead or contact ids); for contacts, LeadOf maps
	// each to its parent lead.
	IDs    []string          `json:"ids"`
	LeadOf map[string]string `json:"lead_of,omitempty"`

	File       string `json:"file,omitempty"`
	Compressed bool   `json:"compressed"`
	Bytes      int64  `json:"bytes"`
	SHA256     string `json:"sha256,omitempty"`
	// Counts are objects per type in the file: lead, contact, address, opportunity, task and
	// each activity _type (activity.Note, activity.Email, …).
	Counts map[string]int `json:"counts,omitempty"`
	// Missing says what an event-log backup lacks (docs/close-backup.md §5).
	Missing []string `json:"missing,omitempty"`

	Created  time.Time  `json:"created"`
	Finished *time.Time `json:"finished,omitempty"`
	Restored *time.Time `json:"restored,omitempty"`
}

// Store is a backup directory. Methods are safe for concurrent use within one process; two
// processes sharing a directory only ever create distinct backups.
type Store struct {
	dir string
	mu  sync.Mutex
	now func() time.Time
}

// DefaultDir is $XDG_STATE_HOME/bulkguard/backups, else ~/.local/state/bulkguard/backups.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "bulkguard", "backups"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("backup: no backup directory: XDG_STATE_HOME is unset and %w", err)
	}
	return filepath.Join(home, ".local", "state", "bulkguard", "backups"), nil
}

// Open returns the store at dir. The directory is made (0700) when the first backup is
// written, so opening a store touches nothing; an existing directory readable by others is
// tightened to 0700: backups hold a whole slice of the CRM.
func Open(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("backup: empty backup directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	s := &Store{dir: abs, now: time.Now}
	if err := s.check(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// check verifies an existing directory and tightens its mode.
func (s *Store) check() error {
	fi, err := os.Stat(s.dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("backup: %s is not a directory", s.dir)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// A directory needs its x bit; 0700 is owner-only.
		if err := os.Chmod(s.dir, 0o700); err != nil { // #nosec G302
			return fmt.Errorf("backup: %s is readable by others and cannot be tightened: %w", s.dir, err)
		}
	}
	return nil
}

// ensure makes the directory before the first backup is written.
func (s *Store) ensure() error {
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("backup: making the backup directory: %w", err)
	}
	return s.check()
}

// Dir is the store's absolute path.
func (s *Store) Dir() string { return s.dir }

var idPattern = regexp.MustCompile(`^bkp_[0-9]{8}T[0-9]{6}Z_[0-9a-f]{8}$`)

// ValidID reports whether id has the form of a backup id; only such ids become paths.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func (s *Store) newID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "bkp_" + s.now().UTC().Format("20060102T150405Z") + "_" + hex.EncodeToString(b[:]), nil
}

// Path is the directory of backup id.
func (s *Store) Path(id string) (string, error) {
	if !ValidID(id) {
		return "", fmt.Errorf("backup: %q is not a backup id (bkp_…)", truncate(id, 40))
	}
	return filepath.Join(s.dir, id), nil
}

// create makes a new backup directory and writes its first manifest.
func (s *Store) create(m *Manifest) error {
	if err := s.ensure(); err != nil {
		return err
	}
	for range 5 {
		id, err := s.newID()
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		err = os.Mkdir(filepath.Join(s.dir, id), 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("backup: %w", err)
		}
		m.ID, m.Version = id, manifestVersion
		if m.Created.IsZero() {
			m.Created = s.now().UTC()
		}
		return s.save(m)
	}
	return errors.New("backup: could not pick a fresh backup id")
}

// save writes m atomically: a temporary file, fsync, rename, fsync of the directory.
func (s *Store) save(m *Manifest) error {
	dir, err := s.Path(m.ID)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("backup: encoding the manifest: %w", err)
	}
	return writeAtomic(dir, ManifestName, append(b, '\n'))
}

func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, "."+name+".*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		_ = f.Close()
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("backup: writing %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("backup: writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("backup: writing %s: %w", name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer d.Close()
	// Some file systems cannot sync a directory; the rename is then as durable as they allow.
	_ = d.Sync()
	return nil
}

// Get reads one backup's manifest.
func (s *Store) Get(id string) (*Manifest, error) {
	dir, err := s.Path(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup: no backup %s in %s: %w", id, s.dir, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("backup: %s: the manifest is not readable: %w", id, err)
	}
	if m.ID != id {
		return nil, fmt.Errorf("backup: %s: the manifest names another backup (%q)", id, truncate(m.ID, 40))
	}
	return &m, nil
}

// ErrNotFound is wrapped when a backup does not exist.
var ErrNotFound = errors.New("not found")

// List returns every backup's manifest, newest first. Directories that are not backups, and
// backups whose manifest cannot be read, are skipped.
func (s *Store) List() ([]Manifest, error) {
	entries, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no backup taken yet
	}
	if err != nil {
		return nil, fmt.Errorf("backup: %w", err)
	}
	var out []Manifest
	for _, e := range entries {
		if !e.IsDir() || !ValidID(e.Name()) {
			continue
		}
		m, err := s.Get(e.Name())
		if err != nil {
			continue
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// Find resolves a backup by its id or by the bulk delete job id it was taken for.
func (s *Store) Find(ref string) (*Manifest, error) {
	if ValidID(ref) {
		return s.Get(ref)
	}
	if !strings.HasPrefix(ref, "bulkdelete_") {
		return nil, fmt.Errorf("backup: %q is neither a backup id (bkp_…) nor a bulk delete job id (bulkdelete_…)", truncate(ref, 40))
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].JobID == ref && all[i].State != StateFailed {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("backup: no backup for job %s in %s: %w", ref, s.dir, ErrNotFound)
}

// SetJob records the bulk delete job a backup was taken for, once Close has made it.
func (s *Store) SetJob(id, jobID string) error {
	return s.update(id, func(m *Manifest) { m.JobID = jobID })
}

func (s *Store) update(id string, fn func(*Manifest)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.Get(id)
	if err != nil {
		return err
	}
	fn(m)
	return s.save(m)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
