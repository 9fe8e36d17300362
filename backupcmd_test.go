package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupCommands: `bulkguard backups` and `bulkguard restore` without what they need say
// so and exit with the usage status; an empty backup directory is listed as such.
func TestBackupCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "backups")
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		code    int
		wantOut string
		wantErr string
	}{
		{"no backups yet", []string{"backups", "--backup-dir", dir}, nil, 0, "No backups in " + dir, ""},
		{"restore without a backup named", []string{"restore", "--backup-dir", dir}, nil, exitUsage, "", "name the backup"},
		{"restore without a key", []string{"restore", "bkp_20261202T000000Z_00000000", "--backup-dir", dir}, map[string]string{"CLOSE_API_KEY": ""}, exitUsage, "", "CLOSE_API_KEY is not set"},
		{"restore with a bad object type", []string{"restore", "bulkdelete_x", "--object-type", "task"}, nil, exitUsage, "", "--object-type"},
		{"restore of a backup that is not there", []string{"restore", "bkp_20261202T000000Z_00000000", "--backup-dir", dir}, map[string]string{"CLOSE_API_KEY": "api_test_key_0000"}, 1, "", "no backup bkp_20261202T000000Z_00000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
			if code != tc.code || !strings.Contains(out.String(), tc.wantOut) || !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("exit %d (want %d)\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errOut.String())
			}
		})
	}
}
