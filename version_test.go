package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestVersionFrom: the link-time version wins, then the module version of
// `go install …@vX`, then the VCS revision, else "dev".
func TestVersionFrom(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name   string
		linked string
		info   *debug.BuildInfo
		ok     bool
		want   string
	}{
		{"linked wins", "v1.2.3", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}}, true, "v1.2.3"},
		{"linked without build info", "v1.2.3", nil, false, "v1.2.3"},
		{"go install at a tag", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.4.0"}}, true, "v0.4.0"},
		{"checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "false")}, true, "dev-0123456789ab"},
		{"dirty checkout", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("abc", "true")}, true, "dev-abc-dirty"},
		{"no VCS data", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "dev"},
		{"no build info", "", nil, false, "dev"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionFrom(tc.linked, tc.info, tc.ok); got != tc.want {
				t.Fatalf("versionFrom = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestVersionBuilds builds the binary the ways a release does, without VCS
// data (a source archive, a container build context), and checks what
// `bulkguard version` and `--version` print.
func TestVersionBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice")
	}
	tests := []struct {
		name  string
		flags []string
		want  string
	}{
		{"ldflags tag", []string{"-ldflags", "-X main.version=v1.2.3"}, "bulkguard v1.2.3\n"},
		{"no VCS data, no tag", nil, "bulkguard dev\n"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprintf("bulkguard%d", i))
			args := append([]string{"build", "-buildvcs=false", "-o", out}, tc.flags...)
			build := exec.Command("go", append(args, ".")...)
			if b, err := build.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, b)
			}
			for _, arg := range []string{"version", "--version"} {
				got, err := exec.Command(out, arg).Output()
				if err != nil {
					t.Fatalf("%s %s: %v", out, arg, err)
				}
				if string(got) != tc.want {
					t.Errorf("%s: %q, want %q", arg, got, tc.want)
				}
			}
		})
	}
}
