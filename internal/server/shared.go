package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/oauth"
	"github.com/bulkguard/bulkguard/internal/redisstore"
	"github.com/bulkguard/bulkguard/tools"
)

// Stores Config.Store names.
const (
	// StoreMemory keeps plans and spent confirmations in this process:
	// right for one replica, and for stdio.
	StoreMemory = "memory"
)

// Config.Auth values.
const (
	// AuthBearer: every HTTP request carries the one shared token
	// (HTTPToken).
	AuthBearer = "bearer"
	// AuthOAuth: every HTTP request carries an OAuth access token (a JWT)
	// issued by Config.OAuth.Issuer for this resource; scopes decide which
	// tools it may call.
	AuthOAuth = "oauth"
)

// ReadTools are the tools an OAuth token with only the read scope may
// call. Pause is among them: stopping a delete must never need more than
// watching it. Every other tool (create, resume, and any added later)
// needs the delete scope as well.
var ReadTools = []string{tools.ToolPreview, tools.ToolList, tools.ToolGet, tools.ToolLookup, tools.ToolPause}

// startupTimeout bounds what New waits for Redis and the OAuth issuer.
const startupTimeout = 15 * time.Second

// sharedState is what a server shares with its replicas, and how requests
// are authenticated.
type sharedState struct {
	store    string // StoreMemory or the store URL
	replica  string
	auth     string
	plans    guards.PlanStore  // nil: the guard's own memory store
	nonces   guards.NonceStore // nil: the guard's own memory store
	verifier *oauth.Verifier   // set with AuthOAuth
}

// setupShared checks the shared-deployment settings, opens the shared
// store and puts the replica id into the audit log path.
func (s *Server) setupShared() (closeStore func(), err error) {
	cfg := &s.cfg
	if err := CheckStore(cfg.Store); err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("--store: %w", err)}
	}
	s.shared.store = cfg.Store
	if s.shared.store == "" {
		s.shared.store = StoreMemory
	}
	s.shared.replica = cfg.ReplicaID
	if s.shared.replica == "" {
		s.shared.replica = DefaultReplicaID()
	}
	if err := CheckReplicaID(s.shared.replica); err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("--replica-id: %w", err)}
	}
	switch s.shared.auth = cfg.Auth; s.shared.auth {
	case "":
		s.shared.auth = AuthBearer
	case AuthBearer:
	case AuthOAuth:
		if cfg.Transport != TransportHTTP {
			return nil, &ConfigError{Err: errors.New("--auth oauth needs --transport http (hosted clients connect over streamable HTTP)")}
		}
	default:
		return nil, &ConfigError{Err: fmt.Errorf("--auth %q: want bearer or oauth", cfg.Auth)}
	}
	perReplica := strings.Contains(cfg.AuditLog, ReplicaPlaceholder)
	cfg.AuditLog = AuditPathFor(cfg.AuditLog, s.shared.replica)
	if !SharedStoreURL(cfg.Store) {
		return func() {}, nil
	}
	if len(cfg.SealKey) == 0 {
		return nil, &ConfigError{Err: errors.New("a shared --store needs " + SealKeyEnv + " (the same 32-byte key on every replica, e.g. from `openssl rand -base64 32`), so a confirmation started on one replica opens on another")}
	}
	if !perReplica {
		s.log.Warn("with a shared store, put "+ReplicaPlaceholder+" in --audit-log so each replica writes its own file; replicas appending to one file on a shared volume can interleave records",
			"audit_log", cfg.AuditLog, "replica", s.shared.replica)
	}
	redisstore.SetLogger(s.log)
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	st, err := openSharedStore(ctx, cfg.Store)
	if err != nil {
		return nil, err
	}
	s.shared.plans, s.shared.nonces = st, st
	return func() {
		if err := st.Close(); err != nil {
			s.log.Warn("close the shared store", "err", err)
		}
	}, nil
}

// setupOAuth builds the token verifier (fetching the issuer's keys once,
// so a wrong issuer fails at startup) and checks scopes on every tool call
// as well as in the HTTP layer.
func (s *Server) setupOAuth() error {
	if s.shared.auth != AuthOAuth {
		return nil
	}
	oc := s.cfg.OAuth
	oc.ReadTools = ReadTools
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	v, err := oauth.New(ctx, oc)
	if err != nil {
		return err
	}
	s.shared.verifier = v
	s.mcp.Use(scopeCheck(v))
	return nil
}

// scopeCheck refuses a tool call whose token lacks the tool's scopes. The
// HTTP layer (oauth.AuthorizeTools) already answers such a call with 403
// so the client can step up; this check holds whatever the HTTP layer made
// of the request body, and for calls that reach a tool by another road.
func scopeCheck(v *oauth.Verifier) mcpserver.ToolHandlerMiddleware {
	return func(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			need := v.ScopesFor(req.Params.Name)
			c, ok := oauth.ClaimsFrom(ctx)
			if !ok {
				return mcp.NewToolResultError("Refused (unauthorized): this call carries no verified OAuth token. Nothing was deleted. Connect through bulkguard's HTTP endpoint with an access token."), nil
			}
			if missing := oauth.Missing(c, need); len(missing) > 0 {
				return mcp.NewToolResultError("Refused (insufficient_scope): " + req.Params.Name + " needs the OAuth scope " + strings.Join(missing, " ") +
					", which this sign-in did not grant. Nothing was deleted. Ask the person to sign in again and grant " + strings.Join(need, " ") + "."), nil
			}
			return next(ctx, req)
		}
	}
}

// oauthGuard is the HTTP guard of --auth oauth: Origin check, a verified
// token (401 with the metadata's address otherwise), the token's subject
// on the context for the audit record, the body limit, then the tool's
// scopes (403 insufficient_scope for step-up).
func (s *Server) oauthGuard() func(http.Handler) http.Handler {
	v := s.shared.verifier
	return func(h http.Handler) http.Handler {
		return checkOrigin(v.Authenticate(withSubject(limitBody(int64(s.cfg.MaxBodyBytes), v.AuthorizeTools(h)))))
	}
}

// mountMetadata serves the RFC 9728 document, unauthenticated: it is how
// a client learns where to get a token.
func (s *Server) mountMetadata(mux *http.ServeMux) {
	v := s.shared.verifier
	for _, p := range v.MetadataPaths() {
		mux.Handle("GET "+p, v.MetadataHandler())
	}
}

// withSubject hands the verified subject to the guard.
func withSubject(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := oauth.ClaimsFrom(r.Context()); ok {
			r = r.WithContext(guards.WithSubject(r.Context(), c.Subject))
		}
		next.ServeHTTP(w, r)
	})
}

// storeKind names the store for /healthz without its address.
func storeKind(store string) string {
	if SharedStoreURL(store) {
		return "redis"
	}
	return StoreMemory
}

// SealKeyEnv is the environment variable the seal key is read from. It is
// a secret, so it has no flag (a command line is visible to every user of
// the machine).
const SealKeyEnv = "BULKGUARD_SEAL_KEY"

// ReplicaPlaceholder in an audit log path is replaced by the replica id, so
// replicas sharing a volume each write their own file.
const ReplicaPlaceholder = "{replica}"

// ParseSealKey reads the key that seals elicitation state: 32 bytes, as
// base64 (standard or URL alphabet, padded or not; `openssl rand -base64
// 32`) or as 64 hex digits (`openssl rand -hex 32`). Every replica behind
// one balancer must have the same key, or a confirmation started on one
// cannot be opened on another.
func ParseSealKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New(SealKeyEnv + " is empty")
	}
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("%s decodes to %d bytes; it must be 32 (openssl rand -base64 32)", SealKeyEnv, len(b))
			}
			return b, nil
		}
	}
	// The value is a secret: the error never repeats it.
	return nil, errors.New(SealKeyEnv + " is neither base64 nor 64 hex digits (make one with: openssl rand -base64 32)")
}

var replicaIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckReplicaID accepts ids that are safe in a file name and a log line.
func CheckReplicaID(id string) error {
	if !replicaIDRE.MatchString(id) {
		return fmt.Errorf("replica id %q must be 1–63 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// DefaultReplicaID is the host name (a container's is its id or service
// name), or "replica" when there is none usable.
func DefaultReplicaID() string {
	h, err := os.Hostname()
	if err != nil || CheckReplicaID(h) != nil {
		return "replica"
	}
	return h
}

// AuditPathFor puts the replica id into an audit log path.
func AuditPathFor(path, replica string) string {
	return strings.ReplaceAll(path, ReplicaPlaceholder, replica)
}

// SharedStoreURL reports whether store names a shared store (redis:// or
// rediss://) rather than memory.
func SharedStoreURL(store string) bool {
	return strings.HasPrefix(store, "redis://") || strings.HasPrefix(store, "rediss://")
}

// CheckStore accepts "", "memory", redis:// and rediss:// URLs.
func CheckStore(store string) error {
	if store == "" || store == StoreMemory || SharedStoreURL(store) {
		return nil
	}
	return errors.New(`the store must be "memory" or a redis:// or rediss:// URL`)
}

// openSharedStore connects to the Redis of store; Redis must answer now,
// so a wrong URL or password fails at startup rather than at the first
// delete.
func openSharedStore(ctx context.Context, store string) (*redisstore.Store, error) {
	st, err := redisstore.Open(ctx, store, redisstore.Options{})
	if err != nil {
		if r, ok := guards.AsRefusal(err); ok {
			return nil, errors.New(strings.TrimSuffix(r.Problem, ".") + " at startup (check --store / BULKGUARD_STORE and that Redis runs)")
		}
		return nil, err
	}
	return st, nil
}

// RedactStoreURL is store fit for a log line: any password replaced.
func RedactStoreURL(store string) string {
	if !SharedStoreURL(store) {
		return store
	}
	u, err := url.Parse(store)
	if err != nil {
		return "redis://(unparsable)"
	}
	return u.Redacted()
}
