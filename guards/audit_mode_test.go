package guards

import (
	"os"
	"path/filepath"
	"testing"
)

// TestAuditLogModeTightened: an existing audit log readable by others is
// set to 0600 when opened, and Tightened says what it was; a new log is
// made 0600 and reports nothing.
func TestAuditLogModeTightened(t *testing.T) {
	tests := []struct {
		name     string
		existing os.FileMode // 0 = no file yet
		wantWas  os.FileMode
	}{
		{"new file", 0, 0},
		{"existing 0644", 0o644, 0o644},
		{"existing 0640", 0o640, 0o640},
		{"existing 0600", 0o600, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.jsonl")
			if tc.existing != 0 {
				if err := os.WriteFile(path, nil, tc.existing); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.existing); err != nil { // past the umask
					t.Fatal(err)
				}
			}
			log, err := OpenAuditLog(path)
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode %#o, want 0600", st.Mode().Perm())
			}
			was, ok := log.Tightened()
			if was != tc.wantWas || ok != (tc.wantWas != 0) {
				t.Errorf("Tightened() = %#o, %v; want %#o", was, ok, tc.wantWas)
			}
		})
	}
}
