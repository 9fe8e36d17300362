package guards

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestClip: text is cut by runes, never inside a character, and marked.
func TestClip(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "plan_x", 80, "plan_x"},
		{"exact", "abc", 3, "abc"},
		{"ascii cut", "abcdef", 3, "abc…"},
		{"multibyte counted as one", "ééééé", 3, "ééé…"},
		{"cjk", "削除削除削除", 2, "削除…"},
		{"emoji", "🙂🙂🙂", 1, "🙂…"},
		{"zero", "abc", 0, "…"},
		{"empty", "", 5, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Clip(c.in, c.n)
			if got != c.want {
				t.Fatalf("Clip(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
			}
			if !utf8.ValidString(got) {
				t.Fatalf("Clip(%q, %d) = %q is not valid UTF-8", c.in, c.n, got)
			}
		})
	}
	// A huge argument stays bounded.
	if got := Clip(strings.Repeat("x", 10<<20), 80); utf8.RuneCountInString(got) != 81 {
		t.Fatalf("10 MB clipped to %d runes, want 81", utf8.RuneCountInString(got))
	}
}
