package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"

	"github.com/bulkguard/bulkguard/internal/server"
	"github.com/bulkguard/bulkguard/sandbox"
)

// runSandbox is `bulkguard sandbox`: the in-memory Close API alone, for
// rehearsing a cleanup with curl, scripts or another bulkguard pointed at it
// with --close-url.
func runSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, help, err := parseSandbox(args, os.LookupEnv, stdout)
	if help {
		return 0
	}
	if err != nil {
		return reportUsage(stderr, err, "bulkguard sandbox --help")
	}
	logger := newLogger(stderr, cfg.level, cfg.LogFormat)
	slog.SetDefault(logger)
	if err := serveSandbox(ctx, cfg, logger, stderr); err != nil {
		var ce *server.ConfigError
		if errors.As(err, &ce) {
			return reportUsage(stderr, ce, "bulkguard sandbox --help")
		}
		logger.Error("sandbox stopped", "err", err)
		return 1
	}
	return 0
}

func serveSandbox(ctx context.Context, cfg *sandboxConfig, logger *slog.Logger, stderr io.Writer) error {
	opts := cfg.Opts
	opts.Logger = logger.With("component", "sandbox")
	sb, err := sandbox.New(opts)
	if err != nil {
		// Only its options make sandbox.New fail: a usage error.
		return &server.ConfigError{Err: err}
	}
	defer sb.Close()

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	srv := server.NewHTTPServer(sb, logger)
	base := "http://" + ln.Addr().String() + "/api/v1"
	// The base URL and key go to stderr as plain text (the key is the
	// sandbox's own, not a Close credential), so scripts can read them.
	fmt.Fprintf(stderr, "bulkguard sandbox: an in-memory Close API with %s (nothing here touches Close)\n", sb.Origin())
	fmt.Fprintf(stderr, "  base URL: %s\n", base)
	fmt.Fprintf(stderr, "  API key:  %s\n", sb.APIKey())
	fmt.Fprintf(stderr, "  try:      curl -u %s: %s/me/\n", sb.APIKey(), base)
	fmt.Fprintf(stderr, "  bulkguard against it: CLOSE_API_KEY=%s bulkguard --close-url %s\n", sb.APIKey(), base)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), server.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}
