package testkit

import (
	"os"
	"strings"
	"testing"
)

// withoutConfig is this process's environment minus anything that would
// configure bulkguard behind a test's back: a developer's CLOSE_API_KEY,
// BULKGUARD_* settings and XDG_STATE_HOME (where the default audit log
// goes), and the keys in drop.
func withoutConfig(drop ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "CLOSE_API_KEY" || strings.HasPrefix(k, "BULKGUARD_") || k == "XDG_STATE_HOME" {
			continue
		}
		dropped := false
		for _, d := range drop {
			if k == d {
				dropped = true
				break
			}
		}
		if !dropped {
			env = append(env, kv)
		}
	}
	return env
}

// Environ is the environment for a child process outside a test: this
// process's without CLOSE_API_KEY, BULKGUARD_* and XDG_STATE_HOME, plus
// extra.
func Environ(extra ...string) []string {
	return append(withoutConfig(), extra...)
}

// CleanEnv is the environment for a child process of a test: as Environ,
// with the default audit path in a temporary directory of tb (never the
// real home directory), NO_COLOR=1, and then extra.
func CleanEnv(tb testing.TB, extra ...string) []string {
	env := withoutConfig("NO_COLOR")
	env = append(env, "XDG_STATE_HOME="+tb.TempDir(), "NO_COLOR=1")
	return append(env, extra...)
}
