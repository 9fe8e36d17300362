//go:build linux

package guards

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestAuditShortWrite: a record cut short by the file-size limit
// (RLIMIT_FSIZE, set in a child process so no other test is limited) is
// reported as an error and leaves nothing behind, so the next record is a
// line of its own and the whole log still reads.
func TestAuditShortWrite(t *testing.T) {
	if dir := os.Getenv("BULKGUARD_TEST_AUDIT_FSIZE"); dir != "" {
		auditShortWriteChild(t, filepath.Join(dir, "audit.jsonl"))
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestAuditShortWrite$", "-test.count=1", "-test.v") //nolint:gosec // the test binary itself
	cmd.Env = append(os.Environ(), "BULKGUARD_TEST_AUDIT_FSIZE="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestAuditShortWrite") {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	recs, err := ReadAuditLog(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		t.Fatalf("the log does not read after a short write: %v", err)
	}
	var events []string
	for _, r := range recs {
		events = append(events, r.Event)
	}
	if strings.Join(events, ",") != "first,third" {
		t.Errorf("records %v, want first,third", events)
	}
}

func auditShortWriteChild(t *testing.T, path string) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	log, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	if _, err := log.Append(AuditRecord{Event: "first"}); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path) //nolint:gosec // a path of the parent test's temporary directory
	if err != nil {
		t.Fatal(err)
	}
	// Room for 64 more bytes: the next record is far longer, so the write
	// stops part way through it.
	limited := syscall.Rlimit{Cur: uint64(st.Size()) + 64, Max: old.Max} //nolint:gosec // a file size is never negative
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limited); err != nil {
		t.Fatal(err)
	}
	_, werr := log.Append(AuditRecord{Event: "second", Reason: strings.Repeat("x", 4096)})
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	if werr == nil {
		t.Fatal("a record past the file-size limit was reported written")
	}
	after, err := os.Stat(path) //nolint:gosec // as above
	if err != nil || after.Size() != st.Size() {
		t.Fatalf("after the short write the file has %d bytes, want %d (err %v)", after.Size(), st.Size(), err)
	}
	if _, err := log.Append(AuditRecord{Event: "third"}); err != nil {
		t.Fatalf("append after a short write: %v", err)
	}
}
