package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/sandbox"
	"github.com/bulkguard/bulkguard/tools"
	"github.com/mark3labs/mcp-go/server"
)

const (
	envSandbox = "sandbox"
	envClose   = "close"
)

// runServe is `bulkguard [serve]`: config → logger → Close client (real or
// sandbox) → guard → MCP server → transport.
func runServe(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cfg, help, err := parseServe(args, os.LookupEnv, stdout)
	if help {
		return 0
	}
	if err != nil {
		return reportUsage(stderr, err, "bulkguard --help")
	}
	if cfg.ShowVersion {
		fmt.Fprintf(stdout, "bulkguard %s\n", buildVersion())
		return 0
	}
	logger := newLogger(stderr, cfg.level, cfg.LogFormat)
	// mcp-go and net/http log through the standard logger in a few places
	// (panics in handlers); route those through the same handler.
	slog.SetDefault(logger)

	if err := serve(ctx, cfg, logger, stdin, stdout, stderr); err != nil {
		if errors.Is(err, errUsage) {
			return reportUsage(stderr, err, "bulkguard --help")
		}
		logger.Error("bulkguard stopped", "err", err)
		return 1
	}
	return 0
}

// reportUsage prints a configuration error and where to read about flags.
func reportUsage(stderr io.Writer, err error, helpCmd string) int {
	msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
	fmt.Fprintf(stderr, "bulkguard: %s\nRun %q for every flag.\n", msg, helpCmd)
	return exitUsage
}

// backend is the Close API the server talks to: Close itself, or a sandbox
// served in-process on a loopback port.
type backend struct {
	baseURL     string
	apiKey      string
	environment string
	close       func()
}

func startBackend(cfg *serveConfig, logger *slog.Logger) (*backend, error) {
	if !cfg.Sandbox && cfg.closeAPIKey != "" {
		return &backend{baseURL: cfg.CloseURL, apiKey: cfg.closeAPIKey, environment: envClose, close: func() {}}, nil
	}
	opts := cfg.SandboxOpts
	opts.Logger = logger.With("component", "sandbox")
	sb, err := sandbox.New(opts)
	if err != nil {
		// sandbox.New fails only on its options (a bad BULKGUARD_SANDBOX_*
		// value, --leads out of range, an unreadable --load file): a usage
		// error like any other bad flag.
		return nil, fmt.Errorf("%w: sandbox: %v", errUsage, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		sb.Close()
		return nil, fmt.Errorf("start sandbox: %w", err)
	}
	srv := newHTTPServer(sb, logger)
	go func() { _ = srv.Serve(ln) }()
	reason := "no CLOSE_API_KEY is set"
	if cfg.Sandbox {
		reason = "--sandbox is set"
	}
	// Said once, at startup; every tool result also carries the environment.
	logger.Warn("serving the built-in SANDBOX (an in-memory Close API with demo data): nothing here touches your Close account",
		"reason", reason, "leads", sb.NumLeads())
	if cfg.CloseURL != closeapi.DefaultBaseURL {
		logger.Warn("--close-url is ignored while the sandbox serves", "close_url", cfg.CloseURL)
	}
	return &backend{
		baseURL:     "http://" + ln.Addr().String() + "/api/v1",
		apiKey:      sb.APIKey(),
		environment: envSandbox,
		close: func() {
			_ = srv.Close()
			sb.Close()
		},
	}, nil
}

func serve(ctx context.Context, cfg *serveConfig, logger *slog.Logger, stdin io.Reader, stdout, stderr io.Writer) error {
	be, err := startBackend(cfg, logger)
	if err != nil {
		return err
	}
	defer be.close()

	ver := buildVersion()
	newClient := func(key string) (*closeapi.Client, error) {
		return closeapi.New(closeapi.Options{
			BaseURL:  be.baseURL,
			APIKey:   key,
			Version:  ver,
			TZOffset: cfg.TZOffset,
			Logger:   logger.With("component", "closeapi"),
		})
	}
	cl, err := newClient(be.apiKey)
	if err != nil {
		return fmt.Errorf("close client: %w", err)
	}

	audit, err := guards.OpenAuditLog(cfg.AuditLog)
	if err != nil {
		return fmt.Errorf("open audit log %s: %w", cfg.AuditLog, err)
	}
	defer audit.Close()
	g, err := guards.New(guards.Config{
		Policy: guards.Policy{
			MaxObjects:         cfg.MaxObjects,
			VerifyIDsUpTo:      cfg.VerifyIDsUpTo,
			MaxShare:           cfg.MaxShare,
			AllowedObjectTypes: cfg.objectTypes,
			AllowMatchAll:      cfg.AllowMatchAll,
			Confirm:            guards.ConfirmMode(cfg.Confirm),
			PlanTTL:            cfg.PlanTTL,
		},
		Audit:       audit,
		Environment: be.environment,
	})
	if err != nil {
		return fmt.Errorf("guard: %w", err)
	}

	deps := tools.Deps{
		Guard:           g,
		Client:          cl,
		Environment:     be.environment,
		ReadOnly:        cfg.ReadOnly,
		AllowClientKeys: cfg.AllowClientKeys,
		Logger:          logger,
		Version:         ver,
	}
	if cfg.AllowClientKeys {
		// A per-request key talks to the same base URL (Close, or the sandbox
		// when it serves); the key itself is never logged.
		deps.ClientForKey = newClient
	}
	s := tools.NewServer(deps)

	logger.Info("bulkguard starting",
		"version", ver, "transport", cfg.Transport, "environment", be.environment,
		"read_only", cfg.ReadOnly, "max_objects", cfg.MaxObjects, "allowed_object_types", cfg.objectTypes,
		"confirm", cfg.Confirm, "plan_ttl", cfg.PlanTTL.String(), "audit_log", cfg.AuditLog)

	switch cfg.Transport {
	case "stdio":
		return serveStdio(ctx, s, logger, stdin, stdout)
	default:
		return serveHTTP(ctx, s, httpConfig{
			transport:   cfg.Transport,
			listen:      cfg.Listen,
			token:       cfg.HTTPToken,
			maxBody:     int64(cfg.MaxBodyBytes),
			environment: be.environment,
			version:     ver,
		}, logger, stderr)
	}
}

// serveStdio serves MCP on stdin/stdout until stdin closes or a signal
// cancels ctx. stdout carries nothing but protocol messages.
func serveStdio(ctx context.Context, s *server.MCPServer, logger *slog.Logger, stdin io.Reader, stdout io.Writer) error {
	ss := server.NewStdioServer(s)
	ss.SetErrorLogger(slog.NewLogLogger(logger.Handler(), slog.LevelError))
	err := ss.Listen(ctx, stdin, stdout)
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, context.Canceled):
		logger.Info("stdio session ended")
		return nil
	default:
		return fmt.Errorf("stdio: %w", err)
	}
}

// newHTTPServer sets the timeouts every listener of ours uses. There is no
// WriteTimeout and no ReadTimeout: SSE and streamable-HTTP responses are
// long-lived streams, and a connection-wide ReadTimeout would also cancel a
// streaming request's context once it expires (net/http's background read
// reports the deadline as a closed connection). Request bodies get their own
// read deadline in limitBody instead.
func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
