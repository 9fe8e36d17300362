package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/tools"
)

const (
	pathMCP     = "/mcp"
	pathSSE     = "/sse"
	pathMessage = "/message"
	pathHealthz = "/healthz"

	// DefaultMaxBodyBytes is the body limit when Config.MaxBodyBytes is 0.
	DefaultMaxBodyBytes ByteSize = 1 << 20
	// defaultReadHeaderTimeout bounds how long a client may take to send
	// its request headers.
	defaultReadHeaderTimeout = 10 * time.Second
	// defaultBodyReadTimeout bounds how long a client may take to send a
	// request body (slow-body attacks), in place of a connection-wide
	// ReadTimeout.
	defaultBodyReadTimeout = 30 * time.Second
	// DefaultMaxHTTPSessions: a session costs about 13 KiB (264 MiB for
	// 20,000), so the cap bounds them near 13 MiB while leaving room for far
	// more clients than one guard serves.
	DefaultMaxHTTPSessions = 1000
	// DefaultHTTPSessionIdleTTL outlasts a person's pause between tool
	// calls; a client whose session idled out gets 404 and initializes again.
	DefaultHTTPSessionIdleTTL = 30 * time.Minute
	// ShutdownTimeout bounds a graceful shutdown before connections are cut.
	ShutdownTimeout = 10 * time.Second
)

// ListenAndServe serves MCP over streamable HTTP (/mcp) or HTTP+SSE (/sse
// and /message), plus an unauthenticated GET /healthz, on Config.Listen
// until ctx is cancelled.
func (s *Server) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.ServeListener(ctx, ln)
}

// ServeListener is ListenAndServe on a listener of the caller's.
func (s *Server) ServeListener(ctx context.Context, ln net.Listener) error {
	h, shutdownMCP := s.Handler()
	srv := newHTTPServer(h, s.log, s.cfg.ReadHeaderTimeout)
	// At the start of Shutdown, once the listener is closed: end every
	// body still being read (a client sending one byte a second would hold
	// its connection, and so the shutdown, for the whole BodyReadTimeout).
	srv.RegisterOnShutdown(s.bodies.cutAll)

	addr := ln.Addr().String()
	endpoint := pathMCP
	if s.cfg.Transport == TransportSSE {
		endpoint = pathSSE
	}
	s.log.Info("listening", "transport", s.cfg.Transport, "url", "http://"+addr+endpoint, "addr", addr, "healthz", "http://"+addr+pathHealthz)
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		// mcp-go's DNS-rebinding check only applies to loopback connections,
		// and the bearer token travels in clear text over plain HTTP.
		s.log.Warn("listening beyond loopback: put a TLS-terminating proxy in front so the bearer token is not sent in clear text", "addr", addr)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		shutdownMCP(context.Background())
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	s.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	// Close the long-lived streams first: http.Server.Shutdown waits for
	// active connections, and an open SSE stream never becomes idle.
	shutdownMCP(sctx)
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Handler is the HTTP side of the server: /healthz, and /mcp (streamable
// HTTP) or /sse and /message (HTTP+SSE, with Config.Transport "sse"), each
// behind the Origin check, the bearer token and the body limit. shutdown
// ends the transport's open sessions and streams.
func (s *Server) Handler() (h http.Handler, shutdown func(context.Context)) {
	cfg := s.cfg
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathHealthz, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{
			"status": "ok", "version": cfg.Version, "transport": cfg.Transport, "environment": s.backend.Environment,
			"replica": s.shared.replica, "store": storeKind(s.shared.store),
		})
	})
	guard := func(h http.Handler) http.Handler {
		return checkOrigin(requireBearer(s.token, limitBody(int64(cfg.MaxBodyBytes), h)))
	}
	if s.shared.verifier != nil {
		guard = s.oauthGuard()
		s.mountMetadata(mux)
	}
	switch cfg.Transport {
	case TransportSSE:
		// DNS-rebinding protection is mcp-go's default (it is only off with
		// WithSSEDisableLocalhostProtection(true)); it runs inside ServeHTTP.
		// No base URL: the endpoint event then carries a relative
		// "/message?sessionId=…" that works behind any host name or proxy.
		sse := mcpserver.NewSSEServer(s.mcp)
		mux.Handle(pathSSE, guard(sse))
		mux.Handle(pathMessage, guard(sse))
		shutdown = func(context.Context) { sse.CloseSessions() }
	default:
		// DNS-rebinding protection stays on (WithDisableLocalhostProtection
		// is never passed).
		// Sessions are capped and idle ones swept (sessionLimiter).
		var h *mcpserver.StreamableHTTPServer
		s.sessions = newSessionLimiter(cfg.MaxHTTPSessions, SharedStoreURL(s.shared.store), func(id string) { endSession(h, pathMCP, id) })
		h = mcpserver.NewStreamableHTTPServer(s.mcp, mcpserver.WithStreamableHTTPLogger(s.log),
			mcpserver.WithSessionIdManager(s.sessions), mcpserver.WithSessionIdleTTL(cfg.HTTPSessionIdleTTL))
		mux.Handle(pathMCP, guard(h))
		shutdown = func(ctx context.Context) { _ = h.Shutdown(ctx) }
	}
	return s.bodies.deadline(cfg.BodyReadTimeout, mux), shutdown
}

// NewHTTPServer is an http.Server with the timeouts of every bulkguard
// listener, for `bulkguard sandbox`.
func NewHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return newHTTPServer(new(bodyReads).deadline(defaultBodyReadTimeout, h), logger, defaultReadHeaderTimeout)
}

// newHTTPServer sets the timeouts every listener of ours uses. There is no
// WriteTimeout and no ReadTimeout: SSE and streamable-HTTP responses are
// long-lived streams, and a connection-wide ReadTimeout would also cancel a
// streaming request's context once it expires (net/http's background read
// reports the deadline as a closed connection). Request bodies get their own
// read deadline in limitBody instead.
func newHTTPServer(h http.Handler, logger *slog.Logger, readHeaderTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// checkOrigin refuses a browser request from another site. mcp-go's
// DNS-rebinding protection checks only the Host header; the MCP spec asks
// servers to validate Origin as well, since a page on evil.example can make
// a browser post to a server on localhost. Clients that are not browsers
// send no Origin and pass; a browser page served from the same host (or
// from loopback) passes too.
func checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || originAllowed(origin, r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "forbidden",
			"message": "requests from another site's page (Origin header) are refused; MCP clients that are not browsers send no Origin"})
	})
}

// originAllowed: the Origin's host is loopback or the host the request was
// sent to.
func originAllowed(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	oh := u.Hostname()
	if oh == "localhost" {
		return true
	}
	if ip := net.ParseIP(oh); ip != nil && ip.IsLoopback() {
		return true
	}
	rh := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		rh = h
	}
	return strings.EqualFold(oh, strings.Trim(rh, "[]"))
}

// requireBearer lets a request through only with `Authorization: Bearer
// <token>`. Both sides are hashed before the constant-time comparison so
// neither the token's bytes nor its length leak through timing.
func requireBearer(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, present := bearerToken(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if present && subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			next.ServeHTTP(w, r)
			return
		}
		challenge := `Bearer realm="bulkguard"`
		msg := "missing bearer token: send Authorization: Bearer <token> (the token is --http-token / BULKGUARD_HTTP_TOKEN, or the one printed to the server's stderr at startup)"
		if present {
			// RFC 6750 §3.1: a presented but wrong token is invalid_token.
			challenge += `, error="invalid_token"`
			msg = "invalid bearer token: use the token set with --http-token / BULKGUARD_HTTP_TOKEN, or the one printed to the server's stderr at startup"
		}
		w.Header().Set("WWW-Authenticate", challenge)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized", "message": msg})
	})
}

// bearerToken extracts the credential of a Bearer Authorization header; the
// scheme is case-insensitive (RFC 9110 §11.1).
func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// limitBody rejects request bodies over max bytes with 413 before the MCP
// transport sees them. The body is read here, under the read deadline
// bodyReads.deadline set, so the limit gives a 413 whatever the transport
// would have made of a truncated body (mcp-go answers a read error with a
// JSON-RPC parse error).
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			tooLarge(w, max)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			tooLarge(w, max)
			return
		case err != nil:
			// The deadline stays expired: net/http reads what is left of
			// an unread body before it answers, and without the deadline a
			// stalled client would hold the connection and get no answer.
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "message": "could not read the request body"})
			return
		}
		// Clear the deadline: the response may stream for a long time, and
		// net/http's background read must not see an expired deadline.
		_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
		body = tools.MarkUnreadableArguments(body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func tooLarge(w http.ResponseWriter, max int64) {
	size := ByteSize(max)
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{
		"error":   "request_too_large",
		"message": fmt.Sprintf("request body is larger than %s (--max-body-bytes / BULKGUARD_MAX_BODY_BYTES)", size.String()),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newToken returns 32 random bytes, base64url: 256 bits, header-safe.
func newToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate HTTP token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
