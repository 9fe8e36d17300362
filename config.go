package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/oauth"
	"github.com/bulkguard/bulkguard/internal/server"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/lmittmann/tint"
)

// envCloseAPIKey is the one credential bulkguard reads. It is deliberately not
// a flag: command lines are visible to every user of the machine (ps, /proc).
const envCloseAPIKey = "CLOSE_API_KEY" //nolint:gosec // G101: the variable's name, not a credential

// Defaults that appear in --help and in the README table.
const (
	defaultListen        = "127.0.0.1:8080"
	defaultSandboxListen = "127.0.0.1:8790"
	defaultMaxObjects    = 1000
	defaultObjectTypes   = "lead,contact"
	defaultPlanTTL       = 10 * time.Minute
	minHTTPTokenLen      = 16
)

// knownObjectTypes are the object types an s_query's object_type clause is
// documented to take (docs/close-api.md §3: "lead or contact documented");
// the guard can only allow what Close can be asked to delete.
var knownObjectTypes = []string{"lead", "contact"}

// serveConfig is everything `bulkguard serve` is configured with.
type serveConfig struct {
	Transport          string
	Listen             string
	HTTPToken          string
	Sandbox            bool
	CloseURL           string
	ReadOnly           bool
	MaxObjects         int
	VerifyIDsUpTo      int
	MaxShare           float64
	AllowedObjectTypes string
	AllowMatchAll      bool
	Confirm            string
	PlanTTL            time.Duration
	AuditLog           string
	Backup             string
	BackupDir          string
	BackupTimeout      time.Duration
	LogLevel           string
	LogFormat          string
	AllowClientKeys    bool
	MaxBodyBytes       server.ByteSize
	TZOffset           string
	SandboxOpts        sandbox.Options
	ShowVersion        bool
	Store              string
	ReplicaID          string
	Auth               string
	OAuthIssuer        string
	OAuthResource      string
	OAuthAudience      string
	OAuthJWKSURL       string
	OAuthReadScope     string
	OAuthDeleteScope   string
	// Caps on what clients can make the server hold (README "Bounded
	// resources").
	MaxPlansPerPrincipal int
	MaxPlanBytes         server.ByteSize
	MaxHTTPSessions      int
	HTTPSessionTTL       time.Duration

	// Derived by validate.
	objectTypes []string
	level       slog.Level
	closeAPIKey string
	sealKey     []byte
}

// sandboxConfig is everything `bulkguard sandbox` is configured with.
type sandboxConfig struct {
	Listen    string
	LogLevel  string
	LogFormat string
	Opts      sandbox.Options

	level slog.Level
}

// cliFlags is a FlagSet whose flags fall back to an environment variable
// when they are not given on the command line: the one mechanism for every
// flag of every command, the sandbox's included. The fallback is applied
// after parsing (rather than baked into the default) so --help shows the
// real default next to the variable's name, and a bad value in a variable
// is a usage error naming the variable whether or not the flag is used.
type cliFlags struct {
	fs       *flag.FlagSet
	env      map[string]string // flag name → environment variable
	defaults map[string]string // flag name → default as shown in --help
	own      []string          // the command's own flags, in order
	sandbox  []string          // the sandbox's flags, in order
	inSbx    bool              // note adds to sandbox rather than own
	fromEnv  map[string]string // flag name → the variable that set it
	lookup   func(string) (string, bool)
	usage    func(w io.Writer)
	maxArgs  int // positional arguments after the flags (preview FILE, watch JOB)
}

func newCLIFlags(name string) *cliFlags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	// The flag package would print its own usage on every error; we print a
	// one-line error plus a pointer to --help instead (see parse).
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cliFlags{fs: fs, env: map[string]string{}, defaults: map[string]string{}, fromEnv: map[string]string{},
		lookup: func(string) (string, bool) { return "", false }}
}

func (c *cliFlags) note(name, env, def string) {
	c.env[name] = env
	c.defaults[name] = def
	if c.inSbx {
		c.sandbox = append(c.sandbox, name)
	} else {
		c.own = append(c.own, name)
	}
}

func (c *cliFlags) str(p *string, name, env, def, usage string) {
	c.fs.StringVar(p, name, def, usage)
	c.note(name, env, def)
}

func (c *cliFlags) boolean(p *bool, name, env, usage string) {
	c.fs.BoolVar(p, name, false, usage)
	c.note(name, env, "false")
}

func (c *cliFlags) integer(p *int, name, env string, def int, usage string) {
	c.fs.IntVar(p, name, def, usage)
	c.note(name, env, strconv.Itoa(def))
}

func (c *cliFlags) int64(p *int64, name, env string, def int64, usage string) {
	c.fs.Int64Var(p, name, def, usage)
	c.note(name, env, strconv.FormatInt(def, 10))
}
func (c *cliFlags) float(p *float64, name, env string, def float64, usage string) {
	c.fs.Float64Var(p, name, def, usage)
	c.note(name, env, strconv.FormatFloat(def, 'g', -1, 64))
}

func (c *cliFlags) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	c.fs.DurationVar(p, name, def, usage)
	c.note(name, env, def.String())
}

func (c *cliFlags) value(v flag.Value, name, env, usage string) {
	c.fs.Var(v, name, usage)
	c.note(name, env, v.String())
}

// parse parses args, then fills every flag not given on the command line from
// its environment variable. A bad value in either place is an errUsage.
// It returns flag.ErrHelp for -h/--help.
func (c *cliFlags) parse(args []string, lookup func(string) (string, bool)) error {
	c.lookup = lookup
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v%s", errUsage, err, c.acceptedIn(err))
	}
	if c.fs.NArg() > c.maxArgs {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, c.fs.Arg(c.maxArgs))
	}
	given := map[string]bool{}
	c.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, name := range append(slices.Clone(c.own), c.sandbox...) {
		env := c.env[name]
		if env == "" || given[name] {
			continue
		}
		v, ok := c.envValue(env)
		if !ok {
			continue
		}
		if err := c.fs.Set(name, v); err != nil {
			return fmt.Errorf("%w: invalid value %q for %s (--%s): %v%s", errUsage, v, env, name, err, accepted(c.fs.Lookup(name)))
		}
		c.fromEnv[name] = env
	}
	return nil
}

// envValue is the variable's value; set but empty (or blank) is unset.
func (c *cliFlags) envValue(env string) (string, bool) {
	v, ok := c.lookup(env)
	v = strings.TrimSpace(v)
	return v, ok && v != ""
}

// flagError is a bad flag value found by validation, named by its flag.
type flagError struct {
	flag string
	msg  string
}

func (e *flagError) Error() string { return errUsage.Error() + ": " + e.msg }
func (e *flagError) Unwrap() error { return errUsage }

// badFlag reports that --name has a value validation refuses; msg starts
// with the flag, as every usage message does.
func badFlag(name, format string, a ...any) error {
	return &flagError{flag: name, msg: fmt.Sprintf(format, a...)}
}

// explain names the environment variable a refused value came from.
func (c *cliFlags) explain(err error) error {
	var fe *flagError
	if errors.As(err, &fe) {
		if env, ok := c.fromEnv[fe.flag]; ok {
			return &flagError{flag: fe.flag, msg: fe.msg + " (the value comes from " + env + ")"}
		}
	}
	return err
}

// tzOffsetRE is the x-tz-offset shape Close documents: hours, optionally
// fractional (docs/close-api.md §4.6: "-4", "-2.5").
var tzOffsetRE = regexp.MustCompile(`^[+-]?[0-9]{1,2}(\.[0-9]+)?$`)

// printFlags writes one entry per flag: name and value type, usage, and the
// environment variable and default, in registration order: the command's
// own flags, then the sandbox's.
func (c *cliFlags) printFlags(w io.Writer, ownTitle, sandboxTitle string) {
	fmt.Fprintf(w, "%s:\n", ownTitle)
	for _, name := range c.own {
		c.printFlag(w, c.fs.Lookup(name))
	}
	if len(c.sandbox) > 0 {
		fmt.Fprintf(w, "\n%s:\n", sandboxTitle)
		for _, name := range c.sandbox {
			c.printFlag(w, c.fs.Lookup(name))
		}
	}
}

// printFlag shows the built-in default, never the environment's value
// (which may be a token); it says when the variable is set, since that
// value then wins over the default.
func (c *cliFlags) printFlag(w io.Writer, f *flag.Flag) {
	typ, usage := flag.UnquoteUsage(f)
	head := "  --" + f.Name
	if typ != "" {
		head += " " + typ
	}
	fmt.Fprintln(w, head)
	fmt.Fprintf(w, "        %s\n", usage)
	env := c.env[f.Name]
	def := c.defaults[f.Name]
	var parts []string
	if env != "" {
		parts = append(parts, "env "+env)
	}
	if def == "" {
		def = `""`
	}
	parts = append(parts, "default "+def)
	line := strings.Join(parts, ", ")
	if _, set := c.envValue(env); env != "" && set {
		line += "; " + env + " is set"
	}
	fmt.Fprintf(w, "        (%s)\n", line)
}

// newServeFlags registers every `bulkguard serve` flag on a fresh FlagSet.
func newServeFlags(cfg *serveConfig) *cliFlags {
	c := newCLIFlags("bulkguard")
	cfg.MaxBodyBytes = server.DefaultMaxBodyBytes
	cfg.MaxPlanBytes = guards.DefaultMaxPlanBytes
	c.str(&cfg.Transport, "transport", "BULKGUARD_TRANSPORT", "stdio",
		"MCP transport: `stdio|http|sse` (http = streamable HTTP at /mcp; sse = HTTP+SSE at /sse and /message, for older clients)")
	c.str(&cfg.Listen, "listen", "BULKGUARD_LISTEN", defaultListen,
		"`host:port` for --transport http|sse (port 0 picks a free one; the address is logged)")
	c.str(&cfg.HTTPToken, "http-token", "BULKGUARD_HTTP_TOKEN", "",
		"bearer `token` HTTP clients must send (Authorization: Bearer …), at least 16 characters; prefer the environment variable (command lines are visible in ps); when empty, one is generated and printed to stderr once")
	c.boolean(&cfg.Sandbox, "sandbox", "BULKGUARD_SANDBOX",
		"use the built-in sandbox (an in-memory Close API with demo data) even when CLOSE_API_KEY is set")
	c.str(&cfg.CloseURL, "close-url", "BULKGUARD_CLOSE_URL", closeapi.DefaultBaseURL,
		"Close API base `URL` (used with CLOSE_API_KEY)")
	c.boolean(&cfg.ReadOnly, "read-only", "BULKGUARD_READ_ONLY",
		"register only the read-only tools (preview, list, get, lookup): nothing can be deleted, paused or resumed")
	c.integer(&cfg.MaxObjects, "max-objects", "BULKGUARD_MAX_OBJECTS", defaultMaxObjects,
		"largest number of objects one bulk delete may remove; bigger previews are reported but not executable")
	c.integer(&cfg.VerifyIDsUpTo, "verify-ids-up-to", "BULKGUARD_VERIFY_IDS_UP_TO", guards.DefaultVerifyIDsUpTo,
		"a delete of at most this many objects is checked id by id just before it is sent (the ids the person was shown, and no others); larger ones by their sample; at most 10000 (one search cursor walk)")
	c.float(&cfg.MaxShare, "max-share", "BULKGUARD_MAX_SHARE", guards.DefaultMaxShare,
		"largest `fraction` (0-1] of all objects of a type one delete may take; larger previews are reported but not executable (--allow-match-all lifts it)")
	c.str(&cfg.AllowedObjectTypes, "allowed-object-types", "BULKGUARD_ALLOWED_OBJECT_TYPES", defaultObjectTypes,
		"comma-separated object `types` a delete may target (lead, contact)")
	c.boolean(&cfg.AllowMatchAll, "allow-match-all", "BULKGUARD_ALLOW_MATCH_ALL",
		"allow queries that match every object of a type (match_all, empty and, negated root); refused by default")
	c.str(&cfg.Confirm, "confirm", "BULKGUARD_CONFIRM", string(guards.ConfirmAuto),
		"confirmation `mode`: auto (elicitation when the client supports it, else the typed phrase in the confirm argument or the approval page), elicit (elicitation or the approval page), phrase (the typed phrase only, never a form) or page (only the approval page bulkguard serves on 127.0.0.1)")
	c.duration(&cfg.PlanTTL, "plan-ttl", "BULKGUARD_PLAN_TTL", defaultPlanTTL,
		"how long a preview's plan stays executable")
	c.str(&cfg.AuditLog, "audit-log", "BULKGUARD_AUDIT_LOG", guards.DefaultAuditPath(),
		"audit log `path` (JSON lines, appended, 0600)")
	c.str(&cfg.Backup, "backup", "BULKGUARD_BACKUP", string(guards.BackupRequired),
		"`mode`: required (every delete is preceded by a verified Close export of exactly what it removes, kept in --backup-dir; a backup that fails refuses the delete) or off (no backup; every preview says so)")
	c.str(&cfg.BackupDir, "backup-dir", "BULKGUARD_BACKUP_DIR", defaultBackupDir(),
		"backup `directory` (0700; each backup's files 0600)")
	c.duration(&cfg.BackupTimeout, "backup-timeout", "BULKGUARD_BACKUP_TIMEOUT", guards.DefaultBackupTimeout,
		"longest a backup before a delete may take (export, download, check); past it the delete is refused")
	c.str(&cfg.LogLevel, "log-level", "BULKGUARD_LOG_LEVEL", "info",
		"log `level` on stderr: debug|info|warn|error")
	c.str(&cfg.LogFormat, "log-format", "BULKGUARD_LOG_FORMAT", "text",
		"log `format` on stderr: text|json")
	c.boolean(&cfg.AllowClientKeys, "allow-client-keys", "BULKGUARD_ALLOW_CLIENT_KEYS",
		"let HTTP clients send their own Close API key per request instead of using CLOSE_API_KEY")
	c.value(&cfg.MaxBodyBytes, "max-body-bytes", "BULKGUARD_MAX_BODY_BYTES",
		"largest HTTP request body and stdio message accepted (`size`, e.g. 1MiB, 512KiB, 65536); larger requests get 413, larger stdio messages a JSON-RPC error")
	c.str(&cfg.TZOffset, "tz-offset", "BULKGUARD_TZ_OFFSET", "",
		"`hours` from UTC (e.g. -4, 5.5) sent to Close as x-tz-offset, so relative dates such as \"today\" in a query mean the same day as for the person; empty = UTC")
	c.str(&cfg.Store, "store", "BULKGUARD_STORE", server.StoreMemory,
		"where plans and spent confirmations live: memory (this process) or a redis:// or rediss:// `URL` shared by every replica (needs BULKGUARD_SEAL_KEY); prefer the environment variable when the URL has a password")
	c.str(&cfg.ReplicaID, "replica-id", "BULKGUARD_REPLICA_ID", "",
		"this replica's `name` in logs, /healthz and the audit log path ({replica} in --audit-log); empty = the host name")
	c.str(&cfg.Auth, "auth", "BULKGUARD_AUTH", server.AuthBearer,
		"HTTP authentication: `bearer` (the one --http-token) or oauth (OAuth 2.1 access tokens from --oauth-issuer; --transport http only)")
	c.str(&cfg.OAuthIssuer, "oauth-issuer", "BULKGUARD_OAUTH_ISSUER", "",
		"issuer `URL` of the authorization server (exactly as in its tokens' iss); its keys are found through its metadata")
	c.str(&cfg.OAuthResource, "oauth-resource", "BULKGUARD_OAUTH_RESOURCE", "",
		"public `URL` of this server's /mcp endpoint, e.g. https://bulkguard.example.com/mcp (the resource in RFC 9728 metadata)")
	c.str(&cfg.OAuthAudience, "oauth-audience", "BULKGUARD_OAUTH_AUDIENCE", "",
		"`audience` tokens must be issued for; empty = --oauth-resource")
	c.str(&cfg.OAuthJWKSURL, "oauth-jwks-url", "BULKGUARD_OAUTH_JWKS_URL", "",
		"`URL` of the issuer's JWKS; empty = from the issuer's metadata")
	c.str(&cfg.OAuthReadScope, "oauth-read-scope", "BULKGUARD_OAUTH_READ_SCOPE", oauth.DefaultReadScope,
		"`scope` every request needs (preview, list, get, lookup, pause)")
	c.str(&cfg.OAuthDeleteScope, "oauth-delete-scope", "BULKGUARD_OAUTH_DELETE_SCOPE", oauth.DefaultDeleteScope,
		"`scope` create and resume need in addition")
	c.integer(&cfg.MaxPlansPerPrincipal, "max-plans-per-principal", "BULKGUARD_MAX_PLANS_PER_PRINCIPAL", guards.DefaultMaxPlansPerPrincipal,
		"most unexpired plans one Close credential may hold (with a Redis store: across all replicas); a preview past it is refused (plans_full)")
	c.value(&cfg.MaxPlanBytes, "max-plan-bytes", "BULKGUARD_MAX_PLAN_BYTES",
		"most memory (`size` of the encoded plans, up to 64MiB) all unexpired plans may hold (with a Redis store: one credential's, across replicas); a preview past it is refused (plans_full)")
	c.integer(&cfg.MaxHTTPSessions, "max-http-sessions", "BULKGUARD_MAX_HTTP_SESSIONS", server.DefaultMaxHTTPSessions,
		"most live streamable-HTTP sessions; past it the least recently used one ends (its client gets 404 and initializes again)")
	c.duration(&cfg.HTTPSessionTTL, "http-session-ttl", "BULKGUARD_HTTP_SESSION_TTL", server.DefaultHTTPSessionIdleTTL,
		"a streamable-HTTP session idle this long ends")
	c.fs.BoolVar(&cfg.ShowVersion, "version", false, "print the version and exit")
	c.note("version", "", "false")
	c.sandboxFlags(&cfg.SandboxOpts)
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, `Usage: bulkguard [serve] [flags]

Serves the bulkguard MCP server. With CLOSE_API_KEY set it talks to Close;
without it, or with --sandbox, it runs against the built-in sandbox.
Other commands: sandbox (serve the sandbox alone), doctor, preview FILE,
watch JOB, audit, version; "bulkguard help" lists them.

Environment:
  CLOSE_API_KEY
        Close API key (never a flag, so it does not show up in ps); unset = sandbox
  BULKGUARD_SEAL_KEY
        32-byte key (base64 or hex) sealing confirmation state; required with a
        shared --store, the same on every replica (openssl rand -base64 32)

`)
		c.printFlags(w, "Flags", "Sandbox flags (used when the sandbox serves)")
	}
	return c
}

// newSandboxFlags registers every `bulkguard sandbox` flag on a fresh FlagSet.
func newSandboxFlags(cfg *sandboxConfig) *cliFlags {
	c := newCLIFlags("bulkguard sandbox")
	c.str(&cfg.Listen, "listen", "BULKGUARD_SANDBOX_LISTEN", defaultSandboxListen,
		"`host:port` to serve the sandbox on (port 0 picks a free one)")
	c.str(&cfg.LogLevel, "log-level", "BULKGUARD_LOG_LEVEL", "info",
		"log `level` on stderr: debug|info|warn|error")
	c.str(&cfg.LogFormat, "log-format", "BULKGUARD_LOG_FORMAT", "text",
		"log `format` on stderr: text|json")
	c.sandboxFlags(&cfg.Opts)
	c.usage = func(w io.Writer) {
		fmt.Fprint(w, `Usage: bulkguard sandbox [flags]

Serves the in-memory Close API sandbox alone under /api/v1/ and prints its
base URL and API key to stderr. Try: curl -u KEY: http://ADDR/api/v1/me/

`)
		c.printFlags(w, "Flags", "Sandbox flags")
	}
	return c
}

// sandboxFlags adds the sandbox's flags, which `bulkguard sandbox` and
// `bulkguard --sandbox` share. Their defaults are the realistic ones (20
// requests/s per key, 200 deletes/s), where the zero sandbox.Options is
// quiet and unthrottled for tests.
func (c *cliFlags) sandboxFlags(o *sandbox.Options) {
	c.inSbx = true
	defer func() { c.inSbx = false }()
	c.int64(&o.Seed, "seed", "BULKGUARD_SANDBOX_SEED", 1, "`n`: seed of the demo organization; the same seed gives the same data")
	c.integer(&o.Leads, "leads", "BULKGUARD_SANDBOX_LEADS", 2000, "`n` demo leads to seed, at most 1000000")
	c.str(&o.LoadExport, "load", "BULKGUARD_SANDBOX_LOAD", "", "`file`: serve a Close JSON lead export (format json, type leads; .json or .json.gz) instead of demo data")
	c.str(&o.APIKey, "api-key", "BULKGUARD_SANDBOX_API_KEY", sandbox.DemoAPIKey, "`key` clients must present (Basic auth user or Bearer)")
	c.boolean(&o.EmptyOrg, "empty-org", "BULKGUARD_SANDBOX_EMPTY", "start with no leads (users, statuses, custom fields and Smart Views only)")
	c.float(&o.DeleteRate, "delete-rate", "BULKGUARD_SANDBOX_DELETE_RATE", 200, "`rate`: objects per second a bulk delete removes; 0 = unlimited")
	c.integer(&o.BatchSize, "batch-size", "BULKGUARD_SANDBOX_BATCH_SIZE", 50, "objects a bulk delete removes per `batch`")
	c.duration(&o.Latency, "latency", "BULKGUARD_SANDBOX_LATENCY", 0, "added to every response, e.g. 150ms")
	c.integer(&o.RateLimit, "rate-limit", "BULKGUARD_SANDBOX_RATE_LIMIT", 20, "requests per second per API key before 429; 0 = off")
	c.float(&o.FailureRate, "fail-rate", "BULKGUARD_SANDBOX_FAIL_RATE", 0, "share (0-1) of requests answered 503 without being processed")
	c.float(&o.DropRate, "drop-rate", "BULKGUARD_SANDBOX_DROP_RATE", 0, "share (0-1) of requests whose connection is dropped unanswered")
	c.integer(&o.DropAfterCreate, "drop-after-create", "BULKGUARD_SANDBOX_DROP_AFTER_CREATE", 0, "drop the connection of the `n`-th accepted bulk-delete create after creating the job; 0 = never")
	c.duration(&o.IndexLag, "index-lag", "BULKGUARD_SANDBOX_INDEX_LAG", 0, "how long deleted objects stay counted by /data/search/, e.g. 30s")
}

// parseServe parses and validates `bulkguard serve` arguments. help is true
// when -h/--help was asked for; the usage has then been written to stdout.
func parseServe(args []string, lookup func(string) (string, bool), stdout io.Writer) (cfg *serveConfig, help bool, err error) {
	cfg = &serveConfig{}
	c := newServeFlags(cfg)
	if err := c.parse(args, lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return nil, true, nil
		}
		return nil, false, err
	}
	if cfg.ShowVersion {
		return cfg, false, nil
	}
	if err := cfg.finish(c, lookup); err != nil {
		return nil, false, err
	}
	return cfg, false, nil
}

// finish reads the secrets that have no flag and validates the parsed
// flags: what serve, doctor and preview all do after parsing.
func (cfg *serveConfig) finish(c *cliFlags, lookup func(string) (string, bool)) error {
	if key, ok := lookup(envCloseAPIKey); ok {
		cfg.closeAPIKey = strings.TrimSpace(key)
		if err := checkAPIKey(key); err != nil {
			return err
		}
	}
	if key, ok := lookup(server.SealKeyEnv); ok && strings.TrimSpace(key) != "" {
		var err error
		if cfg.sealKey, err = server.ParseSealKey(key); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	return c.explain(cfg.validate())
}

// placeholderKey matches what READMEs and templates put where a Close key
// goes (api_xxx, <key>, your_api_key, YOUR-CLOSE-API-KEY, …): caught at
// start-up, it is a configuration error rather than a 401 on the first call.
var placeholderKey = regexp.MustCompile(`(?i)^(api_x+|<.*>|\$\{?[a-z_]+\}?|(your|my)[_-]?(close[_-]?)?(api[_-]?)?key([_-]?here)?|x+|changeme|placeholder|\.\.\.)$`)

// checkAPIKey refuses a CLOSE_API_KEY that cannot be a key. An empty value
// means unset (the sandbox); whitespace alone, inner spaces or a
// placeholder do not. The value is never part of the message.
func checkAPIKey(raw string) error {
	key := strings.TrimSpace(raw)
	switch {
	case raw != "" && key == "":
		return fmt.Errorf("%w: %s is only whitespace: set it to your Close API key (Settings → API Keys in Close), or unset it to use the built-in sandbox", errUsage, envCloseAPIKey)
	case strings.ContainsAny(key, " \t\r\n"):
		return fmt.Errorf("%w: %s contains spaces, which a Close API key never does: set it to the key alone (Settings → API Keys in Close)", errUsage, envCloseAPIKey)
	case placeholderKey.MatchString(key):
		return fmt.Errorf("%w: %s is still a placeholder, not a key: set it to your Close API key (Settings → API Keys in Close), or unset it to use the built-in sandbox", errUsage, envCloseAPIKey)
	}
	return nil
}

// parseSandbox parses and validates `bulkguard sandbox` arguments.
func parseSandbox(args []string, lookup func(string) (string, bool), stdout io.Writer) (cfg *sandboxConfig, help bool, err error) {
	cfg = &sandboxConfig{}
	c := newSandboxFlags(cfg)
	if err := c.parse(args, lookup); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.usage(stdout)
			return nil, true, nil
		}
		return nil, false, err
	}
	if err := cfg.validate(); err != nil {
		return nil, false, c.explain(err)
	}
	return cfg, false, nil
}

// validateSandboxOptions refuses sandbox flag values sandbox.New would
// refuse, by flag, so that a bad BULKGUARD_SANDBOX_* value exits 2 and is
// named even in Close mode, where no sandbox is built.
func validateSandboxOptions(o sandbox.Options) error {
	switch {
	case o.Leads < 0 || o.Leads > sandbox.MaxLeads:
		return badFlag("leads", "--leads %d: want 0 to %d", o.Leads, sandbox.MaxLeads)
	case o.DeleteRate < 0:
		return badFlag("delete-rate", "--delete-rate %g: want 0 (unlimited) or more", o.DeleteRate)
	case o.BatchSize < 0:
		return badFlag("batch-size", "--batch-size %d: want 0 (the default) or more", o.BatchSize)
	case o.Latency < 0:
		return badFlag("latency", "--latency %s: want 0s or more", o.Latency)
	case o.RateLimit < 0:
		return badFlag("rate-limit", "--rate-limit %d: want 0 (off) or more", o.RateLimit)
	case o.FailureRate < 0 || o.FailureRate > 1:
		return badFlag("fail-rate", "--fail-rate %g: want a share from 0 to 1", o.FailureRate)
	case o.DropRate < 0 || o.DropRate > 1:
		return badFlag("drop-rate", "--drop-rate %g: want a share from 0 to 1", o.DropRate)
	case o.DropAfterCreate < 0:
		return badFlag("drop-after-create", "--drop-after-create %d: want 0 (off) or more", o.DropAfterCreate)
	case o.IndexLag < 0:
		return badFlag("index-lag", "--index-lag %s: want 0s or more", o.IndexLag)
	}
	return nil
}

// validate checks the sandbox command's own values.
func (cfg *sandboxConfig) validate() error {
	if err := validateSandboxOptions(cfg.Opts); err != nil {
		return err
	}
	if err := validateListen(cfg.Listen); err != nil {
		return err
	}
	lvl, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	cfg.level = lvl
	return validateLogFormat(cfg.LogFormat)
}

// validate checks every value and fills the derived fields. Each message
// names the flag and says what is accepted.
func (cfg *serveConfig) validate() error {
	if err := validateSandboxOptions(cfg.SandboxOpts); err != nil {
		return err
	}
	switch cfg.Transport {
	case "stdio", "http", "sse":
	default:
		return badFlag("transport", "--transport %q: want stdio, http or sse", cfg.Transport)
	}
	if err := validateListen(cfg.Listen); err != nil {
		return err
	}
	if cfg.HTTPToken != "" && len(cfg.HTTPToken) < minHTTPTokenLen {
		return badFlag("http-token", "--http-token: must be at least %d characters (or leave it empty to have one generated)", minHTTPTokenLen)
	}
	if strings.ContainsAny(cfg.HTTPToken, " \t\r\n") {
		return badFlag("http-token", "--http-token: must not contain whitespace")
	}
	u, err := url.Parse(cfg.CloseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return badFlag("close-url", "--close-url %q: want an absolute http(s) URL such as %s", cfg.CloseURL, closeapi.DefaultBaseURL)
	}
	if cfg.MaxObjects < 1 {
		return badFlag("max-objects", "--max-objects %d: want a positive number", cfg.MaxObjects)
	}
	if cfg.VerifyIDsUpTo < 1 || cfg.VerifyIDsUpTo > closeapi.MaxIDWalk {
		return badFlag("verify-ids-up-to", "--verify-ids-up-to %d: want a number from 1 to %d (one search cursor walk returns at most %d ids)", cfg.VerifyIDsUpTo, closeapi.MaxIDWalk, closeapi.MaxIDWalk)
	}
	if cfg.MaxShare <= 0 || cfg.MaxShare > 1 || math.IsNaN(cfg.MaxShare) {
		return badFlag("max-share", "--max-share %g: want a fraction above 0 and at most 1, e.g. 0.5", cfg.MaxShare)
	}
	cfg.objectTypes = nil
	for _, t := range strings.Split(cfg.AllowedObjectTypes, ",") {
		t = strings.ToLower(strings.TrimSpace(t))
		if t == "" {
			continue
		}
		if !slices.Contains(knownObjectTypes, t) {
			return badFlag("allowed-object-types", "--allowed-object-types: unknown object type %q; want a comma-separated list of %s", t, strings.Join(knownObjectTypes, ", "))
		}
		if !slices.Contains(cfg.objectTypes, t) {
			cfg.objectTypes = append(cfg.objectTypes, t)
		}
	}
	if len(cfg.objectTypes) == 0 {
		return badFlag("allowed-object-types", "--allowed-object-types: name at least one of %s", strings.Join(knownObjectTypes, ", "))
	}
	switch guards.ConfirmMode(cfg.Confirm) {
	case guards.ConfirmAuto, guards.ConfirmElicit, guards.ConfirmPhrase, guards.ConfirmPage:
	default:
		return badFlag("confirm", "--confirm %q: want auto, elicit, phrase or page", cfg.Confirm)
	}
	if cfg.PlanTTL <= 0 || cfg.PlanTTL > 24*time.Hour {
		return badFlag("plan-ttl", "--plan-ttl %s: want a duration between 1s and 24h, e.g. 10m", cfg.PlanTTL)
	}
	if cfg.MaxPlansPerPrincipal < 1 || cfg.MaxPlansPerPrincipal > 100000 {
		return badFlag("max-plans-per-principal", "--max-plans-per-principal %d: want a number from 1 to 100000", cfg.MaxPlansPerPrincipal)
	}
	if cfg.MaxHTTPSessions < 1 || cfg.MaxHTTPSessions > 1000000 {
		return badFlag("max-http-sessions", "--max-http-sessions %d: want a number from 1 to 1000000", cfg.MaxHTTPSessions)
	}
	if cfg.HTTPSessionTTL < time.Second || cfg.HTTPSessionTTL > 7*24*time.Hour {
		return badFlag("http-session-ttl", "--http-session-ttl %s: want a duration between 1s and 168h, e.g. 30m", cfg.HTTPSessionTTL)
	}
	if strings.TrimSpace(cfg.AuditLog) == "" {
		return badFlag("audit-log", "--audit-log: want a file path (the audit log cannot be turned off)")
	}
	switch guards.BackupMode(cfg.Backup) {
	case guards.BackupRequired, guards.BackupOff:
	default:
		return badFlag("backup", "--backup %q: want required or off", cfg.Backup)
	}
	if cfg.Backup == string(guards.BackupRequired) && strings.TrimSpace(cfg.BackupDir) == "" {
		return badFlag("backup-dir", "--backup-dir: want a directory (or --backup off to delete without backups)")
	}
	if cfg.BackupTimeout <= 0 || cfg.BackupTimeout > 24*time.Hour {
		return badFlag("backup-timeout", "--backup-timeout %s: want a duration between 1s and 24h, e.g. 10m", cfg.BackupTimeout)
	}
	if cfg.TZOffset != "" {
		h, err := strconv.ParseFloat(cfg.TZOffset, 64)
		if err != nil || !tzOffsetRE.MatchString(cfg.TZOffset) || h < -12 || h > 14 {
			return badFlag("tz-offset", "--tz-offset %q: want hours from UTC between -12 and 14, such as -4 or 5.5", cfg.TZOffset)
		}
	}
	if err := cfg.validateShared(); err != nil {
		return err
	}
	lvl, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	cfg.level = lvl
	return validateLogFormat(cfg.LogFormat)
}

// validateShared checks the settings of replicas and OAuth.
func (cfg *serveConfig) validateShared() error {
	if err := server.CheckStore(cfg.Store); err != nil {
		return badFlag("store", "--store: %v", err)
	}
	if server.SharedStoreURL(cfg.Store) && cfg.sealKey == nil {
		return badFlag("store", "--store: a shared store needs %s, the same 32-byte key on every replica (make one with: openssl rand -base64 32)", server.SealKeyEnv)
	}
	if cfg.ReplicaID != "" {
		if err := server.CheckReplicaID(cfg.ReplicaID); err != nil {
			return badFlag("replica-id", "--replica-id: %v", err)
		}
	}
	switch cfg.Auth {
	case server.AuthBearer:
		return nil
	case server.AuthOAuth:
	default:
		return badFlag("auth", "--auth %q: want bearer or oauth", cfg.Auth)
	}
	if cfg.Transport != "http" {
		return badFlag("auth", "--auth oauth: needs --transport http")
	}
	for _, f := range []struct{ name, v string }{{"oauth-issuer", cfg.OAuthIssuer}, {"oauth-resource", cfg.OAuthResource}} {
		if f.v == "" {
			return badFlag(f.name, "--%s: required with --auth oauth", f.name)
		}
	}
	return nil
}

func validateListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return badFlag("listen", "--listen %q: want host:port, e.g. %s", addr, defaultListen)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return badFlag("listen", "--listen %q: port must be a number from 0 to 65535", addr)
	}
	_ = host // empty host means every interface; net.Listen decides the rest
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, badFlag("log-level", "--log-level %q: want debug, info, warn or error", s)
}

func validateLogFormat(s string) error {
	if s != "text" && s != "json" {
		return badFlag("log-format", "--log-format %q: want text or json", s)
	}
	return nil
}

// newLogger builds the stderr logger: tint for people, JSON for machines.
// Colour only when stderr is a terminal, so ANSI codes never end up in a
// client's log pane (MCP clients capture the server's stderr).
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
	}
	return slog.New(tint.NewTextHandler(w, &tint.Options{
		Level:      level,
		TimeFormat: time.DateTime,
		NoColor:    !isTerminal(w),
	}))
}

// isTerminal reports whether w is a character device (a TTY) without a new
// dependency on golang.org/x/term.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// defaultBackupDir is where backups go unless --backup-dir says otherwise.
func defaultBackupDir() string {
	d, err := backup.DefaultDir()
	if err != nil {
		return ""
	}
	return d
}
