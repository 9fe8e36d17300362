// Package server wires one bulkguard server together: configuration →
// Close client (real Close, or the built-in sandbox served in-process) →
// guard → MCP server → transport (stdio, streamable HTTP or HTTP+SSE).
//
// The command line (package main) turns flags and the environment into a
// Config; tests and benchmarks build the same server from a Config of their
// own, so every one of them runs the wiring the binary runs. Only package
// main and tests import this package.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/backup"
	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/oauth"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/tools"
)

// Environments a server reports in every result and in /healthz.
const (
	EnvSandbox = "sandbox"
	EnvClose   = "close"
)

// Transports Config.Transport names.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
	TransportSSE   = "sse"
)

// Config is everything one server is configured with. The zero value is a
// stdio server on a quiet, unthrottled in-process sandbox (Go zero values of
// sandbox.Options are "off"); the command line sets the realistic values.
type Config struct {
	// Transport is TransportStdio (the default when empty), TransportHTTP
	// (streamable HTTP at /mcp) or TransportSSE (/sse and /message).
	Transport string
	// Listen is the host:port of the HTTP transports.
	Listen string
	// HTTPToken is the bearer token HTTP clients must send. Empty: New
	// generates one and prints it once to Stderr (never to the logger).
	HTTPToken string
	// MaxBodyBytes is the largest HTTP request body and stdio message; 0
	// means 1 MiB.
	MaxBodyBytes ByteSize
	// ReadHeaderTimeout and BodyReadTimeout bound how long an HTTP client
	// may take to send its headers and its body (slowloris); 0 means 10 s
	// and 30 s.
	ReadHeaderTimeout time.Duration
	BodyReadTimeout   time.Duration
	// MaxHTTPSessions caps the live streamable-HTTP sessions (the least
	// recently used is pushed out) and HTTPSessionIdleTTL ends a session
	// idle that long; 0 means 1000 and 30 minutes.
	MaxHTTPSessions    int
	HTTPSessionIdleTTL time.Duration

	// CloseURL and CloseAPIKey reach Close. With CloseAPIKey empty, or
	// Sandbox set, the built-in sandbox serves instead (on a loopback port)
	// with SandboxOptions.
	CloseURL       string
	CloseAPIKey    string
	Sandbox        bool
	SandboxOptions sandbox.Options
	// Backend, when set, is the Close API to use as it is, in place of the
	// choice above: a sandbox the caller serves itself (behind a fault
	// proxy, say), which outlives this server.
	Backend *Backend
	// CloseClient is the template of every Close client (timeouts, retries,
	// TZOffset); New sets BaseURL, APIKey, Version and Logger.
	CloseClient closeapi.Options

	// Policy is the guard's policy: limits, object types, confirmation mode.
	Policy guards.Policy
	// AuditLog is the audit log's path; required.
	AuditLog string
	// BackupDir holds the backups taken before deletes (Policy.Backup says whether one is
	// required); "" means "backups" beside AuditLog.
	BackupDir string
	// ReadOnly registers only the tools that change nothing.
	ReadOnly bool
	// AllowClientKeys lets an HTTP request bring its own Close API key in
	// the X-Close-Api-Key header.
	AllowClientKeys bool
	// Now is the guard's clock; nil means time.Now.
	Now func() time.Time

	// Shared deployments (several replicas behind a balancer; shared.go).
	// Store is StoreMemory ("" too) or a redis:// / rediss:// URL; SealKey
	// (32 bytes) is required with a shared store; ReplicaID ("" → host
	// name) replaces {replica} in AuditLog. Auth is AuthBearer (""
	// too) or AuthOAuth, configured by OAuth (its ReadTools are set here).
	Store     string
	SealKey   []byte
	ReplicaID string
	Auth      string
	OAuth     oauth.Config

	// Version is reported to MCP clients, to Close (User-Agent) and in
	// /healthz.
	Version string
	// Logger gets every log line; nil discards.
	Logger *slog.Logger
	// Stderr receives the generated HTTP token; nil discards it (then only
	// a caller that set HTTPToken can connect).
	Stderr io.Writer
}

// Backend is a running Close API: Close itself, or a sandbox.
type Backend struct {
	BaseURL     string
	APIKey      string
	Environment string // EnvClose or EnvSandbox
}

// ConfigError is an error in the configuration (a bad sandbox option, an
// unreadable export file): the command line reports it as a usage error.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Server is one wired bulkguard server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	backend Backend
	sb      *sandbox.Server // the in-process sandbox; nil otherwise
	client  *closeapi.Client
	guard   *guards.Guard
	mcp     *mcpserver.MCPServer
	token   string
	shared  sharedState
	bodies  bodyReads // request bodies being read, ended at shutdown
	// sessions are the live streamable-HTTP sessions (set by Handler).
	sessions *sessionLimiter
}

// New builds the server described by cfg. cleanup stops the in-process
// sandbox and closes the audit log; it is nil when err is not.
func New(cfg Config) (s *Server, cleanup func(), err error) {
	if cfg.Transport == "" {
		cfg.Transport = TransportStdio
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = defaultReadHeaderTimeout
	}
	if cfg.BodyReadTimeout == 0 {
		cfg.BodyReadTimeout = defaultBodyReadTimeout
	}
	if cfg.MaxHTTPSessions == 0 {
		cfg.MaxHTTPSessions = DefaultMaxHTTPSessions
	}
	if cfg.HTTPSessionIdleTTL == 0 {
		cfg.HTTPSessionIdleTTL = DefaultHTTPSessionIdleTTL
	}
	if cfg.CloseURL == "" {
		cfg.CloseURL = closeapi.DefaultBaseURL
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s = &Server{cfg: cfg, log: log}

	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll()
		}
	}()

	stop, err := s.startBackend()
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, stop)

	if s.client, err = s.ClientForKey(s.backend.APIKey); err != nil {
		return nil, nil, fmt.Errorf("close client: %w", err)
	}
	closeShared, err := s.setupShared()
	if err != nil {
		return nil, nil, err
	}
	closers = append(closers, closeShared)
	cfg = s.cfg // setupShared put the replica into the audit log path
	audit, err := guards.OpenAuditLog(cfg.AuditLog)
	if err != nil {
		return nil, nil, fmt.Errorf("open audit log %s: %w", cfg.AuditLog, err)
	}
	if was, ok := audit.Tightened(); ok {
		log.Warn("the audit log was readable by others: its mode is now 0600", "path", cfg.AuditLog, "was", fmt.Sprintf("%#o", was))
	}
	closers = append(closers, func() {
		if err := audit.Close(); err != nil {
			log.Error("close audit log", "path", cfg.AuditLog, "err", err)
		}
	})
	mode := cfg.Policy.Backup
	if mode == "" {
		mode = guards.BackupRequired
	}
	store, err := openBackups(cfg.BackupDir, cfg.AuditLog, mode)
	if err != nil {
		return nil, nil, &ConfigError{Err: err}
	}
	gcfg := guards.Config{
		Policy:      cfg.Policy,
		Audit:       audit,
		Environment: s.backend.Environment,
		Now:         cfg.Now,
		Store:       s.shared.plans,
		Nonces:      s.shared.nonces,
		SealKey:     cfg.SealKey,
	}
	if store != nil {
		gcfg.Backups = backups{store}
	}
	if s.guard, err = guards.New(gcfg); err != nil {
		return nil, nil, fmt.Errorf("guard: %w", err)
	}

	deps := tools.Deps{
		Guard:           s.guard,
		Client:          s.client,
		Environment:     s.backend.Environment,
		ReadOnly:        cfg.ReadOnly,
		AllowClientKeys: cfg.AllowClientKeys,
		Logger:          log,
		Version:         cfg.Version,
		Backups:         store,
	}
	if cfg.AllowClientKeys {
		deps.ClientForKey = s.ClientForKey
	}
	if deps.Approvals, err = approvals(cfg, log); err != nil {
		return nil, nil, err
	}
	if deps.Approvals != nil {
		closers = append(closers, func() { _ = deps.Approvals.Close() })
	}
	s.mcp = tools.NewServer(deps)
	if err := s.setupOAuth(); err != nil {
		return nil, nil, err
	}

	if cfg.Transport != TransportStdio && s.shared.verifier == nil {
		if s.token = cfg.HTTPToken; s.token == "" {
			if s.token, err = newToken(); err != nil {
				return nil, nil, err
			}
			if cfg.Stderr != nil {
				// Straight to stderr rather than through the logger: log
				// lines are shipped and kept, and a credential must not be.
				// Unprinted, the token would lock every client out.
				if _, err := fmt.Fprintf(cfg.Stderr, "bulkguard: generated HTTP bearer token (set --http-token or BULKGUARD_HTTP_TOKEN to choose one):\n  Authorization: Bearer %s\n", s.token); err != nil {
					return nil, nil, fmt.Errorf("print the generated HTTP token: %w", err)
				}
			}
		}
	}

	pol := cfg.Policy
	log.Info("bulkguard starting",
		"version", cfg.Version, "transport", cfg.Transport, "environment", s.backend.Environment, "close_url", s.backend.BaseURL,
		"read_only", cfg.ReadOnly, "max_objects", pol.MaxObjects, "allowed_object_types", pol.AllowedObjectTypes,
		"confirm", string(pol.Confirm), "plan_ttl", pol.PlanTTL.String(), "audit_log", cfg.AuditLog,
		"store", RedactStoreURL(s.shared.store), "replica", s.shared.replica, "auth", s.shared.auth,
		"backup", string(mode), "backup_dir", backupDirOf(store))
	return s, closeAll, nil
}

// ClientForKey builds a Close client on the server's backend with key: the
// server's own client, and the per-request client of --allow-client-keys
// (X-Close-Api-Key). The key itself is never logged.
func (s *Server) ClientForKey(key string) (*closeapi.Client, error) {
	o := s.cfg.CloseClient
	o.BaseURL = s.backend.BaseURL
	o.APIKey = key
	o.Version = s.cfg.Version
	o.Logger = s.log.With("component", "closeapi")
	return closeapi.New(o)
}

// startBackend settles which Close API the server talks to, starting the
// in-process sandbox when that is the one. stop ends what it started.
func (s *Server) startBackend() (stop func(), err error) {
	cfg := s.cfg
	switch {
	case cfg.Backend != nil:
		s.backend = *cfg.Backend
		return func() {}, nil
	case !cfg.Sandbox && cfg.CloseAPIKey != "":
		s.backend = Backend{BaseURL: cfg.CloseURL, APIKey: cfg.CloseAPIKey, Environment: EnvClose}
		if cfg.CloseURL != closeapi.DefaultBaseURL && isSandbox(cfg.CloseURL) {
			s.backend.Environment = EnvSandbox
			s.log.Warn("the Close URL answers as a bulkguard SANDBOX: results are labelled sandbox, nothing touches a Close account", "close_url", cfg.CloseURL)
		}
		return func() {}, nil
	}
	opts := cfg.SandboxOptions
	opts.Logger = s.log.With("component", "sandbox")
	sb, err := sandbox.New(opts)
	if err != nil {
		// sandbox.New fails only on its options (--leads out of range, an
		// unreadable --load file).
		return nil, &ConfigError{Err: err}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	srv := newHTTPServer(sb, s.log, cfg.ReadHeaderTimeout)
	go func() { _ = srv.Serve(ln) }()
	reason := "no CLOSE_API_KEY is set"
	if cfg.Sandbox {
		reason = "--sandbox is set"
	}
	// Said once, at startup; every tool result also carries the environment.
	s.log.Warn("serving the built-in SANDBOX (an in-memory Close API): nothing here touches your Close account",
		"reason", reason, "data", sb.Origin(), "leads", sb.NumLeads())
	if cfg.CloseURL != closeapi.DefaultBaseURL {
		s.log.Warn("--close-url is ignored while the sandbox serves", "close_url", cfg.CloseURL)
	}
	s.sb = sb
	s.backend = Backend{BaseURL: "http://" + ln.Addr().String() + "/api/v1", APIKey: sb.APIKey(), Environment: EnvSandbox}
	return func() {
		_ = srv.Close()
		sb.Close()
	}, nil
}

// MCP is the MCP server (tools registered), for in-process clients.
func (s *Server) MCP() *mcpserver.MCPServer { return s.mcp }

// Guard is the server's guard.
func (s *Server) Guard() *guards.Guard { return s.guard }

// Client is the server's own Close client.
func (s *Server) Client() *closeapi.Client { return s.client }

// Backend is the Close API the server talks to.
func (s *Server) Backend() Backend { return s.backend }

// Sandbox is the in-process sandbox, or nil when the server talks to Close
// or to a Config.Backend.
func (s *Server) Sandbox() *sandbox.Server { return s.sb }

// Serve serves the configured transport until ctx is cancelled (or, on
// stdio, until stdin closes). stdin and stdout are used by stdio only.
func (s *Server) Serve(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	if s.cfg.Transport == TransportStdio {
		return s.ServeStdio(ctx, stdin, stdout)
	}
	return s.ListenAndServe(ctx)
}

// ServeStdio serves MCP on stdin/stdout until stdin closes or ctx is
// cancelled. stdout carries nothing but protocol messages.
func (s *Server) ServeStdio(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	ss := mcpserver.NewStdioServer(s.mcp)
	ss.SetErrorLogger(slog.NewLogLogger(s.log.Handler(), slog.LevelError))
	out := &lockedWriter{w: stdout}
	max := s.cfg.MaxBodyBytes
	in := newLineLimiter(stdin, int(max), func(prefix []byte, size int64) {
		s.log.Warn("stdio message over the size limit skipped", "bytes", size, "limit", max.String())
		if _, err := out.Write(tooLargeResponse(requestID(prefix), size, max)); err != nil {
			s.log.Error("answer an over-long stdio message", "err", err)
		}
	})
	err := ss.Listen(ctx, in, out)
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, context.Canceled):
		s.log.Info("stdio session ended")
		return nil
	default:
		return fmt.Errorf("stdio: %w", err)
	}
}

func backupDirOf(s *backup.Store) string {
	if s == nil {
		return ""
	}
	return s.Dir()
}

// isSandbox asks a Close URL other than Close's own whether a bulkguard
// sandbox answers there (it marks every answer with sandbox.IdentityHeader),
// so that a sandbox reached through --close-url is labelled as one. No
// credential is sent; an unreachable URL is taken for Close and fails
// later where it is used.
func isSandbox(baseURL string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+"/me/", nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.Header.Get(sandbox.IdentityHeader) == "1"
}
