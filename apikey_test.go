package main

import (
	"errors"
	"strings"
	"testing"
)

func TestPlaceholderKeyIsAUsageError(t *testing.T) {
	tests := []struct {
		name, key string
		refused   bool
	}{
		{"unset is the sandbox", "", false},
		{"a key", "api_4Hs3kPqW9zLmN2xYcV8bR1tUe6Q", false},
		{"a key with a trailing newline", "api_4Hs3kPqW9zLmN2xYcV8bR1tUe6Q\n", false},
		{"api_xxx", "api_xxx", true},
		{"API_XXXXXXXX", "API_XXXXXXXX", true},
		{"angle brackets", "<key>", true},
		{"angle brackets with words", "<your Close API key>", true},
		{"your_api_key", "your_api_key", true},
		{"YOUR-CLOSE-API-KEY", "YOUR-CLOSE-API-KEY", true},
		{"shell variable left in", "${CLOSE_API_KEY}", true},
		{"only whitespace", "  \t ", true},
		{"inner space", "api_abc def", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAPIKey(tc.key)
			if (err != nil) != tc.refused {
				t.Fatalf("checkAPIKey(%q) = %v, refused want %v", tc.key, err, tc.refused)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "CLOSE_API_KEY") {
				t.Errorf("error %q is not a usage error naming CLOSE_API_KEY", err)
			}
			if k := strings.TrimSpace(tc.key); k != "" && strings.Contains(err.Error(), k) {
				t.Errorf("error %q prints the key", err)
			}
		})
	}
}

// TestPlaceholderKeyExitsAtStartUp runs the binary: a placeholder key stops
// it with exit 2 before any Close request, naming the variable only.
func TestPlaceholderKeyExitsAtStartUp(t *testing.T) {
	for _, key := range []string{"api_xxx", "<key>", "your_api_key", "api_abc def"} {
		t.Run(key, func(t *testing.T) {
			stdout, stderr, code := runToEnd(t, []string{"CLOSE_API_KEY=" + key})
			if code != exitUsage || !strings.Contains(stderr, "CLOSE_API_KEY") || strings.Contains(stderr, key) || stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
			}
		})
	}
}
