package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/bulkguard/bulkguard/closeapi"
	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/oauth"
	"github.com/bulkguard/bulkguard/internal/server"
)

// runServe is `bulkguard [serve]`: flags and environment → server.Config →
// internal/server, which does the wiring and serves the transport.
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

	if err := serve(ctx, cfg.serverConfig(logger, stderr), stdin, stdout); err != nil {
		var ce *server.ConfigError
		if errors.As(err, &ce) {
			return reportUsage(stderr, ce, "bulkguard --help")
		}
		logger.Error("bulkguard stopped", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, sc server.Config, stdin io.Reader, stdout io.Writer) error {
	s, cleanup, err := server.New(sc)
	if err != nil {
		return err
	}
	defer cleanup()
	return s.Serve(ctx, stdin, stdout)
}

// serverConfig is the validated command line as internal/server takes it.
func (cfg *serveConfig) serverConfig(logger *slog.Logger, stderr io.Writer) server.Config {
	return server.Config{
		Transport:       cfg.Transport,
		Listen:          cfg.Listen,
		HTTPToken:       cfg.HTTPToken,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		CloseURL:        cfg.CloseURL,
		CloseAPIKey:     cfg.closeAPIKey,
		Sandbox:         cfg.Sandbox,
		SandboxOptions:  cfg.SandboxOpts,
		CloseClient:     closeapi.Options{TZOffset: cfg.TZOffset},
		BackupDir:       cfg.BackupDir,
		ReadOnly:        cfg.ReadOnly,
		AllowClientKeys: cfg.AllowClientKeys,
		// Caps (README "Bounded resources").
		MaxHTTPSessions:    cfg.MaxHTTPSessions,
		HTTPSessionIdleTTL: cfg.HTTPSessionTTL,

		Policy: guards.Policy{
			MaxObjects:         cfg.MaxObjects,
			VerifyIDsUpTo:      cfg.VerifyIDsUpTo,
			MaxShare:           cfg.MaxShare,
			AllowedObjectTypes: cfg.objectTypes,
			AllowMatchAll:      cfg.AllowMatchAll,
			Confirm:            guards.ConfirmMode(cfg.Confirm),
			PlanTTL:            cfg.PlanTTL,
			Backup:             guards.BackupMode(cfg.Backup),
			BackupTimeout:      cfg.BackupTimeout,

			MaxPlansPerPrincipal: cfg.MaxPlansPerPrincipal,
			MaxPlanBytes:         int64(cfg.MaxPlanBytes),
		},
		Store:     cfg.Store,
		SealKey:   cfg.sealKey,
		ReplicaID: cfg.ReplicaID,
		AuditLog:  cfg.auditLog(),
		Auth:      cfg.Auth,
		OAuth: oauth.Config{
			Issuer:      cfg.OAuthIssuer,
			Resource:    cfg.OAuthResource,
			Audience:    cfg.OAuthAudience,
			JWKSURL:     cfg.OAuthJWKSURL,
			ReadScope:   cfg.OAuthReadScope,
			DeleteScope: cfg.OAuthDeleteScope,
		},
		Version: buildVersion(),
		Logger:  logger,
		Stderr:  stderr,
	}
}

// auditLog is --audit-log, except that replicas sharing a store each get
// their own default file (audit-<replica>.jsonl next to audit.jsonl).
func (cfg *serveConfig) auditLog() string {
	if server.SharedStoreURL(cfg.Store) && cfg.AuditLog == guards.DefaultAuditPath() {
		return strings.TrimSuffix(cfg.AuditLog, "audit.jsonl") + "audit-" + server.ReplicaPlaceholder + ".jsonl"
	}
	return cfg.AuditLog
}

// reportUsage prints a configuration error and where to read about flags.
func reportUsage(stderr io.Writer, err error, helpCmd string) int {
	msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
	fmt.Fprintf(stderr, "bulkguard: %s\nRun %q for every flag.\n", msg, helpCmd)
	return exitUsage
}
