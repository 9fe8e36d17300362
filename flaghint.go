package main

import (
	"flag"
	"regexp"
	"time"
)

// accepted says what a flag of f's kind takes, for the message about a
// value it refused: the flag package says only "parse error".
func accepted(f *flag.Flag) string {
	if f == nil {
		return ""
	}
	g, ok := f.Value.(flag.Getter)
	if !ok {
		return ""
	}
	switch g.Get().(type) {
	case bool:
		return "; want true or false (also 1/0, t/f)"
	case int, int64:
		return "; want a whole number such as 500"
	case float64:
		return "; want a number such as 0.5"
	case time.Duration:
		return "; want a duration such as 30s, 10m or 1h30m"
	}
	return ""
}

// badValueRE matches the flag package's message for a refused value.
var badValueRE = regexp.MustCompile(`^invalid (?:boolean )?value ".*" for (?:flag )?-([A-Za-z0-9-]+):`)

// acceptedIn adds what is accepted to the flag package's error for a value
// given on the command line.
func (c *cliFlags) acceptedIn(err error) string {
	m := badValueRE.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	return accepted(c.fs.Lookup(m[1]))
}
