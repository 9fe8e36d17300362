package backup

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"
)

// The restore journal (docs/close-backup.md §6): one JSON line per step, appended and fsynced
// before the next request is sent. A "begin" line is written before a create is sent, a "done"
// line once Close answered with the new id, a "failed" line when Close refused it. A begin with
// neither after it is a create whose outcome is unknown (the process stopped, or the answer was
// lost); the next run looks for it before sending anything again.

const (
	opBegin  = "begin"
	opDone   = "done"
	opFailed = "failed"
)

type entry struct {
	Op   string `json:"op"`
	Kind string `json:"kind"`
	Old  string `json:"old"`
	New  string `json:"new,omitempty"`
	// Lead is the lead the object was posted to (for children, the new lead).
	Lead string `json:"lead,omitempty"`
	// Contacts maps a restored lead's old contact ids to the new ones.
	Contacts map[string]string `json:"contacts,omitempty"`
	Error    string            `json:"error,omitempty"`
	At       time.Time         `json:"at"`
}

// journal is the state of one backup's restores, read from and appended to its file.
type journal struct {
	f     *os.File
	path  string
	state map[string]*entry // key → the last entry for it
	news  map[string]bool   // every new id recorded as done
}

func key(kind, old string) string { return kind + " " + old }

func openJournal(path string) (*journal, error) {
	j := &journal{path: path, state: map[string]*entry{}, news: map[string]bool{}}
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("backup: reading the journal: %w", err)
	}
	good := 0
	for len(b) > good {
		nl := bytes.IndexByte(b[good:], '\n')
		if nl < 0 {
			break // a torn last line: its step was never acted on (see record)
		}
		line := b[good : good+nl]
		var e entry
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("backup: the journal %s has an unreadable line at byte %d; fix or remove it before restoring again", path, good)
		}
		j.apply(&e)
		good += nl + 1
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("backup: opening the journal: %w", err)
	}
	// Cut a torn last line so the next record starts on a line of its own.
	if err := f.Truncate(int64(good)); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("backup: repairing the journal: %w", err)
	}
	if _, err := f.Seek(int64(good), 0); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("backup: %w", err)
	}
	j.f = f
	return j, nil
}

func (j *journal) apply(e *entry) {
	j.state[key(e.Kind, e.Old)] = e
	if e.Op == opDone && e.New != "" {
		j.news[e.New] = true
	}
}

// record appends e with one write and fsyncs it. A begin is durable before its create is
// sent, so a crash can leave a begin without an outcome but never a create without a begin.
func (j *journal) record(e entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	b = append(b, '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("backup: writing the journal: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("backup: writing the journal: %w", err)
	}
	j.apply(&e)
	return nil
}

func (j *journal) get(kind, old string) *entry { return j.state[key(kind, old)] }

func (j *journal) close() error { return j.f.Close() }

// readJournal returns the journal's state without opening it for writing (for a dry run).
func readJournal(path string) (map[string]*entry, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]*entry{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup: reading the journal: %w", err)
	}
	defer f.Close()
	state := map[string]*entry{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e entry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			ec := e
			state[key(e.Kind, e.Old)] = &ec
		}
	}
	return state, sc.Err()
}
