package server

import (
	"errors"
	"log/slog"
	"net"
	"strings"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/approval"
)

// approvals builds the approval page's server when the person's browser
// can reach it: it listens on 127.0.0.1 (only once a page is offered), so
// it serves stdio and an HTTP transport on loopback, and is left out for a
// server listening beyond loopback, whose clients are elsewhere and would
// be handed a link to their own machine. --confirm=page needs it.
func approvals(cfg Config, log *slog.Logger) (*approval.Server, error) {
	if cfg.Transport != TransportStdio && !loopbackListen(cfg.Listen) {
		if cfg.Policy.Confirm == guards.ConfirmPage {
			return nil, &ConfigError{Err: errors.New("--confirm page needs the approval page, which is served on 127.0.0.1 only: use --transport stdio or a loopback --listen")}
		}
		log.Info("approval page off: the server listens beyond loopback, and the page is served on 127.0.0.1 only", "listen", cfg.Listen)
		return nil, nil
	}
	return approval.New(approval.Options{Now: cfg.Now, Logger: log.With("component", "approval")}), nil
}

// loopbackListen reports whether a --listen address is on loopback.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
