package guards

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bulkguard/bulkguard/internal/testkit"
)

// testClock is an injectable clock: it starts at the wall clock (so that
// times the sandbox stamps on jobs compare sensibly with plan times) and
// moves only when a test advances it.
type testClock = testkit.ManualClock

func newTestClock() *testClock { return testkit.NewManualClock(time.Now()) }

// newTestGuard builds a guard on a fresh audit log in a temp dir.
func newTestGuard(t *testing.T, p Policy, clock *testClock) (*Guard, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "bulkguard", "audit.jsonl")
	log, err := OpenAuditLog(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() })
	if p.Backup == "" {
		p.Backup = BackupOff // the backup step has its own tests (internal/server)
	}
	g, err := New(Config{Policy: p, Audit: log, Environment: "sandbox", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return g, path
}

// wantRefusal fails the test unless err is a refusal with code.
func wantRefusal(t *testing.T, err error, code string) {
	t.Helper()
	_ = refusalOf(t, err, code)
}

// refusalOf is wantRefusal for a caller that goes on to read the refusal.
func refusalOf(t *testing.T, err error, code string) *Refusal {
	t.Helper()
	r, ok := AsRefusal(err)
	if !ok {
		t.Fatalf("want refusal %s, got %v", code, err)
	}
	if r.Code != code {
		t.Fatalf("want refusal %s, got %s: %v", code, r.Code, r)
	}
	return r
}

func TestMain(m *testing.M) {
	// The job list is re-read after short pauses when a lost create's job
	// is not found; the cases that find nothing need not wait seconds.
	reconcileWaits = []time.Duration{0, time.Millisecond, time.Millisecond}
	os.Exit(m.Run())
}
