package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Binary is the bulkguard binary, built at most once from the module root
// exactly as a user builds it (go build -o Dir/bulkguard .).
type Binary struct {
	// Root is the module root, relative to the test's directory ("." for
	// the root package, ".." for a package one level down).
	Root string
	// Dir is where the binary is written; TempDirMain sets it.
	Dir string

	once sync.Once
	path string
	err  error
}

// Build builds the binary the first time it is called and returns its path,
// or the build's failure (with the compiler's output), every time.
func (b *Binary) Build() (string, error) {
	b.once.Do(func() {
		b.path = filepath.Join(b.Dir, "bulkguard")
		cmd := exec.Command("go", "build", "-o", b.path, ".") //nolint:gosec // G204: test support builds this module into a temp dir
		cmd.Dir = b.Root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build of bulkguard failed: %v\n%s", err, out)
		}
	})
	return b.path, b.err
}

// Path is Build for a test: a failed build fails tb.
func (b *Binary) Path(tb testing.TB) string {
	tb.Helper()
	path, err := b.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// TempDirMain is a TestMain for a package whose tests run the binary: it
// makes a temporary directory (pattern as os.MkdirTemp), points bin.Dir at
// it, calls setup (nil for none), runs the tests, removes the directory and
// exits with the tests' code. A failure of the directory or of setup is
// printed after label (when not "") and exits 1 before any test runs.
func TempDirMain(m *testing.M, pattern, label string, bin *Binary, setup func() error) {
	fail := func(err error) {
		if label != "" {
			fmt.Fprintln(os.Stderr, label+":", err)
		} else {
			fmt.Fprintln(os.Stderr, err)
		}
		os.Exit(1)
	}
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		fail(err)
	}
	bin.Dir = dir
	if setup != nil {
		if err := setup(); err != nil {
			os.RemoveAll(dir)
			fail(err)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
