package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/server"
	"github.com/bulkguard/bulkguard/sandbox"
)

// doctorTimeout bounds the one request doctor sends to Close.
const doctorTimeout = 20 * time.Second

// closeHost is Close's own API host: any other --close-url is a sandbox, a
// proxy or a test server, and doctor says so.
const closeHost = "api.close.com"

// secretVariables are never printed, only said to be set.
// (BULKGUARD_STORE too: a Redis URL may carry its password.)
var secretVariables = []string{envCloseAPIKey, server.SealKeyEnv, "BULKGUARD_HTTP_TOKEN", "BULKGUARD_SANDBOX_API_KEY", "BULKGUARD_STORE"}

// doctor collects check results; any failure makes the exit status 1.
type doctor struct {
	w      io.Writer
	failed bool
}

func (d *doctor) report(state, what, format string, a ...any) {
	fmt.Fprintf(d.w, "  %-5s %-14s %s\n", state, what, fmt.Sprintf(format, a...))
	if state == "FAIL" {
		d.failed = true
	}
}

func (d *doctor) ok(what, format string, a ...any)   { d.report("ok", what, format, a...) }
func (d *doctor) warn(what, format string, a ...any) { d.report("WARN", what, format, a...) }
func (d *doctor) fail(what, format string, a ...any) { d.report("FAIL", what, format, a...) }

// runDoctor is `bulkguard doctor`: it reads flags and variables exactly as
// `bulkguard serve` would and checks what serving needs: the configuration,
// the Close key (GET /me/) or the sandbox, the audit log's path, the listen
// address; it lists the variables it read and warns of BULKGUARD_* names
// that nothing reads (a typo there silently leaves a default in force).
func runDoctor(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	env := envMap(environ)
	lookup := lookupEnv(environ)
	cfg := &serveConfig{}
	c := newServeFlags(cfg)
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, `Usage: bulkguard doctor [flags]

Checks the configuration "bulkguard serve" would run with (the same flags and
variables): the Close API key against Close's /me/ (or the built-in sandbox),
which Close URL is used and whether it is Close itself, that the audit log can
be written, which variables were read, and BULKGUARD_* variables nothing reads.
Exits 1 when a check fails. It deletes nothing and sends Close one GET.

`)
		c.printFlags(w, "Flags (those of bulkguard serve)", "Sandbox flags")
	}
	// The command line alone first: a mistyped flag is a usage error (exit
	// 2); a bad value in a variable is a failed check, reported with the rest.
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return 0
		}
		return reportUsage(stderr, fmt.Errorf("%w: %v", errUsage, err), "bulkguard doctor --help")
	}
	d := &doctor{w: stdout}
	fmt.Fprintf(stdout, "bulkguard doctor (%s)\n", buildVersion())
	err := c.parse(args, lookup)
	if err == nil {
		err = cfg.finish(c, lookup)
	}
	if err != nil {
		d.fail("configuration", "%s", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
	} else {
		d.ok("configuration", "flags and variables are valid (transport %s)", cfg.Transport)
		d.checkBackend(ctx, cfg)
		d.checkAuditLog(cfg.AuditLog)
		d.checkBackupDir(cfg.Backup, cfg.BackupDir)
		if cfg.Transport != "stdio" {
			d.checkListen(cfg)
		}
	}
	d.listVariables(c, env, err == nil)
	if d.failed {
		fmt.Fprintln(stdout, "Some checks failed; bulkguard would not serve as configured.")
		return 1
	}
	fmt.Fprintln(stdout, "All checks passed.")
	return 0
}

// checkBackend checks the Close API the server would use.
func (d *doctor) checkBackend(ctx context.Context, cfg *serveConfig) {
	if cfg.Sandbox || cfg.closeAPIKey == "" {
		why := "CLOSE_API_KEY is not set"
		if cfg.Sandbox {
			why = "--sandbox is set"
		}
		opts := cfg.SandboxOpts
		sb, err := sandbox.New(opts)
		if err != nil {
			d.fail("sandbox", "the built-in sandbox cannot start: %v", err)
			return
		}
		n := sb.NumLeads()
		sb.Close()
		d.ok("Close", "none: the built-in sandbox serves (%s), in memory with %d leads; nothing touches a real Close account", why, n)
		return
	}
	cl, err := closeapi.New(closeapi.Options{BaseURL: cfg.CloseURL, APIKey: cfg.closeAPIKey, Version: buildVersion(), TZOffset: cfg.TZOffset})
	if err != nil {
		d.fail("Close", "%v", err)
		return
	}
	kind := "Close itself"
	if u, err := url.Parse(cfg.CloseURL); err == nil && u.Hostname() != closeHost {
		kind = "NOT Close's own host " + closeHost + ": a sandbox, proxy or test server"
	}
	ctx, cancel := context.WithTimeout(ctx, doctorTimeout)
	defer cancel()
	me, err := cl.Me(ctx)
	switch {
	case closeapi.IsUnauthorized(err):
		d.fail("Close key", "%s refused the key in CLOSE_API_KEY (401, fingerprint %s): create one in Close → Settings → Developer → API Keys", cfg.CloseURL, cl.Principal())
		return
	case err != nil:
		d.fail("Close", "GET %s/me/ failed: %v", strings.TrimSuffix(cfg.CloseURL, "/"), err)
		return
	}
	if strings.HasSuffix(me.Email, "@sandbox-demo.example") {
		kind = "a bulkguard sandbox (its demo user answered)"
	}
	d.ok("Close", "%s (%s)", cfg.CloseURL, kind)
	d.ok("Close key", "accepted: the key (fingerprint %s) belongs to %s <%s>, %s", cl.Principal(), me.DisplayName, me.Email, me.ID)
}

// checkAuditLog checks the audit log can be appended to, creating nothing
// but what serving would create (its directory, mode 0700).
func (d *doctor) checkAuditLog(path string) {
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			d.fail("audit log", "%s is a directory; --audit-log wants a file path", path)
			return
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			d.fail("audit log", "%s cannot be appended to: %v", path, err)
			return
		}
		_ = f.Close()
		if st.Mode().Perm()&0o077 != 0 {
			d.warn("audit log", "%s is readable by others (mode %o); bulkguard creates it 0600", path, st.Mode().Perm())
			return
		}
		d.ok("audit log", "%s (exists, writable)", path)
		return
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		d.fail("audit log", "the directory of %s cannot be created: %v", path, err)
		return
	}
	f, err := os.CreateTemp(dir, ".bulkguard-doctor-*")
	if err != nil {
		d.fail("audit log", "%s cannot be created: %v", path, err)
		return
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		d.warn("audit log", "left %s behind: %v", name, err)
	}
	d.ok("audit log", "%s (will be created on the first record)", path)
}

// checkBackupDir checks that backups can be written where --backup-dir
// says, creating nothing but the directory (0700, as bulkguard makes it).
func (d *doctor) checkBackupDir(mode, dir string) {
	if mode == string(guards.BackupOff) {
		d.warn("backups", "--backup off: no backup is taken before a delete, and every preview says so")
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		d.fail("backups", "%s cannot be created: %v", dir, err)
		return
	}
	f, err := os.CreateTemp(dir, ".bulkguard-doctor-*")
	if err != nil {
		d.fail("backups", "%s is not writable: %v", dir, err)
		return
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil {
		d.warn("backups", "left %s behind: %v", name, err)
	}
	d.ok("backups", "%s (writable; a verified backup is taken before every delete)", dir)
}

// checkListen checks the HTTP address is free, and warns when it is
// reachable beyond this machine without TLS.
func (d *doctor) checkListen(cfg *serveConfig) {
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		d.fail("listen", "cannot listen on %s: %v", cfg.Listen, err)
		return
	}
	_ = ln.Close()
	host, _, _ := net.SplitHostPort(cfg.Listen)
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		d.warn("listen", "%s is reachable beyond this machine and bulkguard has no TLS: put a TLS proxy in front", cfg.Listen)
	} else {
		d.ok("listen", "%s is free", cfg.Listen)
	}
	if cfg.HTTPToken == "" {
		d.warn("http token", "none set: a new one is generated at every start; set BULKGUARD_HTTP_TOKEN so clients keep working")
	}
}

// listVariables prints the variables that were read, secrets as "set", and
// warns of BULKGUARD_* variables that no command reads.
func (d *doctor) listVariables(c *cliFlags, env map[string]string, parsed bool) {
	fmt.Fprintln(d.w, "Variables:")
	names := slices.Clone(flaglessVariables)
	flagOf := map[string]string{}
	for _, name := range append(slices.Clone(c.own), c.sandbox...) {
		if v := c.env[name]; v != "" {
			names = append(names, v)
			flagOf[v] = name
		}
	}
	read := 0
	for _, v := range names {
		val, set := env[v]
		if !set || strings.TrimSpace(val) == "" {
			continue
		}
		read++
		shown := fmt.Sprintf("%q", strings.TrimSpace(val))
		if slices.Contains(secretVariables, v) {
			shown = "set (not shown)"
		}
		note := ""
		if f := flagOf[v]; f != "" {
			note = " → --" + f
			// A set variable that did not set its flag lost to the
			// command line.
			if _, fromEnv := c.fromEnv[f]; parsed && !fromEnv {
				note += " (ignored: --" + f + " is on the command line)"
			}
		}
		fmt.Fprintf(d.w, "  %-36s %s%s\n", v, shown, note)
	}
	if read == 0 {
		fmt.Fprintln(d.w, "  none set: every value is the default or from a flag")
	}
	known := knownVariables()
	var unknown []string
	for k := range env {
		if strings.HasPrefix(k, "BULKGUARD_") && !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		hint := ""
		if s := closest(k, known); s != "" {
			hint = "; did you mean " + s + "?"
		}
		d.warn("variable", "%s is set but no bulkguard command reads it%s", k, hint)
	}
}

// flaglessVariables are the secrets read from the environment only.
var flaglessVariables = []string{envCloseAPIKey, server.SealKeyEnv}

// knownVariables is every variable some command reads.
func knownVariables() []string {
	out := slices.Clone(flaglessVariables)
	for _, c := range []*cliFlags{newServeFlags(&serveConfig{}), newSandboxFlags(&sandboxConfig{}), newAuditFlags(&auditConfig{}), newWatchFlags(&watchConfig{})} {
		for _, v := range c.env {
			if v != "" && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	slices.Sort(out)
	return out
}

// closest is the known name within a small edit distance of name, else
// one that ends the same way (BULKGUARD_LEADS: BULKGUARD_SANDBOX_LEADS).
func closest(name string, known []string) string {
	tail := strings.TrimPrefix(name, "BULKGUARD")
	for _, k := range known {
		if len(tail) > 1 && strings.HasSuffix(k, tail) {
			return k
		}
	}
	best, bestD := "", 4
	for _, k := range known {
		if dd := editDistance(name, k); dd < bestD {
			best, bestD = k, dd
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// envMap turns os.Environ-style entries into a map.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
