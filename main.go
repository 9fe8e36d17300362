// Command bulkguard is an MCP server that lets AI assistants run Close CRM
// bulk deletes behind a guard: every delete is previewed, counted, shown to a
// person and confirmed before Close is asked to delete anything.
//
//	bulkguard [serve] [flags]          serve MCP (stdio by default; --transport http|sse)
//	bulkguard sandbox [flags]          serve the in-memory Close API alone
//	bulkguard doctor [flags]           check the configuration, the Close key and the paths
//	bulkguard preview [flags] FILE     dry-run a query file: count, summary, sample
//	bulkguard watch [flags] JOB        follow a bulk-delete job with a progress bar
//	bulkguard audit [flags]            print and filter the audit log
//	bulkguard backups [flags]          list the backups taken before deletes
//	bulkguard restore BACKUP           restore one (dry run, then its phrase)
//	bulkguard version                  print the version
//
// Without CLOSE_API_KEY (or with --sandbox) the server runs against the
// built-in sandbox, so `go run .` works on a fresh machine.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); when it is
// not, buildVersion falls back to the module version or VCS revision that the
// Go toolchain stamps into the binary.
var version = ""

// exitUsage is the exit status for invalid flags or values, as flag.ExitOnError uses.
const exitUsage = 2

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches the subcommand and returns the process exit status. stdout is
// handed only to the stdio transport (and to --help / version output, which
// are requested explicitly and never mixed with the protocol).
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return runServe(ctx, args, stdin, stdout, stderr)
	case "sandbox":
		return runSandbox(ctx, args, stdout, stderr)
	case "doctor":
		return runDoctor(ctx, args, os.Environ(), stdout, stderr)
	case "preview":
		return runPreview(ctx, args, os.LookupEnv, stdin, stdout, stderr)
	case "watch":
		return runWatch(ctx, args, os.LookupEnv, stdout, stderr)
	case "audit":
		return runAudit(args, os.LookupEnv, time.Now(), stdout, stderr)
	case "backups":
		return runBackups(args, stdout, stderr)
	case "restore":
		return runRestore(ctx, args, stdin, stdout, stderr)
	case "version":
		fmt.Fprintf(stdout, "bulkguard %s\n", buildVersion())
		return 0
	case "help":
		printTopUsage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "bulkguard: unknown command %q\n\n", cmd)
		printTopUsage(stderr)
		return exitUsage
	}
}

func printTopUsage(w io.Writer) {
	fmt.Fprint(w, `Usage:
  bulkguard [serve] [flags]         serve MCP over stdio (default), streamable HTTP or SSE
  bulkguard sandbox [flags]         serve the in-memory Close API sandbox alone
  bulkguard doctor [flags]          check the configuration, the Close key, the audit log path
                                    and the BULKGUARD_* variables; exits 1 when a check fails
  bulkguard preview [flags] FILE    dry run of a query file: summary, count and sample (deletes nothing)
  bulkguard watch [flags] JOB       follow a bulk-delete job with a progress bar and ETA
  bulkguard audit [flags]           print the audit log, filtered by --job, --plan, --event, --since, --until
  bulkguard backups [flags]         list the backups taken before deletes
  bulkguard restore BACKUP          restore a backup (dry run, then its phrase)
  bulkguard version                 print the version

Without CLOSE_API_KEY, serve, doctor and preview use the built-in sandbox.
Run "bulkguard COMMAND --help" for a command's flags ("bulkguard --help" for serve's).
`)
}

// buildVersion reports the link-time version, else what the toolchain
// recorded: the module version for `go install …@vX`, or the VCS revision for
// a build from a checkout.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	return versionFrom(version, info, ok)
}

// versionFrom is buildVersion's choice: the link-time version wins (release
// builds, the Dockerfile, goreleaser: none needs VCS data), then the module
// version, then the VCS revision, else "dev".
func versionFrom(linked string, info *debug.BuildInfo, ok bool) string {
	if linked != "" {
		return linked
	}
	if !ok || info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		return "dev-" + rev + dirty
	}
	return "dev"
}

// errUsage marks configuration errors, which exit with status 2.
var errUsage = errors.New("usage")
