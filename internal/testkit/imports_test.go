package testkit

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOnlyTestsImportTestkit keeps this package out of bulkguard itself:
// only tests (their imports are not listed here) and the benchmark
// commands under bench/ may import it.
func TestOnlyTestsImportTestkit(t *testing.T) {
	const self = "github.com/bulkguard/bulkguard/internal/testkit"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "github.com/bulkguard/bulkguard/bench/") || strings.HasPrefix(fields[0], self+"/") {
			continue
		}
		for _, imp := range fields[1:] {
			if imp == self || strings.HasPrefix(imp, self+"/") {
				t.Errorf("%s imports %s, which is for tests only", fields[0], self)
			}
		}
	}
}
