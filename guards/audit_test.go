package guards

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestAuditLogFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "audit.jsonl")
	log, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if _, err := log.Append(AuditRecord{Event: EventPreview}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{{dir, 0o700}, {filepath.Dir(dir), 0o700}, {path, 0o600}} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode {
			t.Errorf("%s: mode %v, want %v", c.path, fi.Mode().Perm(), c.mode)
		}
	}
}

func TestAuditLogAppendRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	// Concurrent appends must each land as one whole line.
	const n = 50
	var wg sync.WaitGroup
	ids := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			id, err := log.Append(AuditRecord{Event: EventPause, JobID: "bulkdelete_" + string(rune('a'+i%26)), Total: intp(i)})
			if err != nil {
				t.Error(err)
			}
			ids <- id
		})
	}
	wg.Wait()
	close(ids)
	log.Close()
	recs, err := ReadAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("%d records, want %d", len(recs), n)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if r.ID == "" || r.Time.IsZero() || r.Event != EventPause || r.Total == nil {
			t.Errorf("incomplete record %+v", r)
		}
		seen[r.ID] = true
	}
	for id := range ids {
		if !seen[id] {
			t.Errorf("id %s returned but not in the log", id)
		}
	}
	// Reopening appends rather than truncating.
	log2, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log2.Append(AuditRecord{Event: EventResume}); err != nil {
		t.Fatal(err)
	}
	log2.Close()
	if recs, _ := ReadAuditLog(path); len(recs) != n+1 {
		t.Fatalf("after reopen %d records, want %d", len(recs), n+1)
	}
}

func TestAuditLogWriteFailures(t *testing.T) {
	tests := []struct {
		name string
		open func(t *testing.T) *AuditLog
	}{
		{"closed", func(t *testing.T) *AuditLog {
			log, err := OpenAuditLog(filepath.Join(t.TempDir(), "a.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			log.Close()
			return log
		}},
		{"device full", func(t *testing.T) *AuditLog {
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Fatalf("this test needs /dev/full (Linux): %v", err)
			}
			log, err := OpenAuditLog("/dev/full")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { log.Close() })
			return log
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.open(t).Append(AuditRecord{Event: EventCreateIntent}); err == nil {
				t.Fatal("append succeeded")
			}
		})
	}
	if _, err := OpenAuditLog(""); err == nil {
		t.Error("opened an empty path")
	}
	// A path below a regular file cannot be created.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenAuditLog(filepath.Join(file, "audit.jsonl")); err == nil {
		t.Error("opened a log under a regular file")
	}
}

func TestDefaultAuditPath(t *testing.T) {
	tests := []struct {
		name, xdg, home, want string
	}{
		{"xdg", "/x/state", "/home/u", "/x/state/bulkguard/audit.jsonl"},
		{"fallback", "", "/home/u", "/home/u/.local/state/bulkguard/audit.jsonl"},
		{"relative xdg ignored", "rel", "/home/u", "/home/u/.local/state/bulkguard/audit.jsonl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_STATE_HOME", tc.xdg)
			t.Setenv("HOME", tc.home)
			if got := DefaultAuditPath(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}
