// Package oauth makes bulkguard's HTTP transports an OAuth 2.1 resource
// server, as the MCP authorization spec asks of servers that hosted
// clients (Claude and ChatGPT connectors) reach: it publishes RFC 9728
// protected-resource metadata naming the authorization server, verifies
// the bearer JWT of every request against the issuer's keys (JWKS), and
// maps scopes to tools, so a token that may read cannot delete.
//
// The access token only says who the person is and what they may do; it
// is never passed on to Close (the Authorization header is removed before
// the MCP server sees the request). The Close credential stays the
// server's own.
package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Default scope names; providers let an operator name scopes freely, so
// both are configurable.
const (
	DefaultReadScope   = "bulkguard:read"
	DefaultDeleteScope = "bulkguard:delete"
)

// DefaultLeeway absorbs clock skew between the issuer and this server in
// exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// DefaultMinRefresh is the least time between two JWKS fetches caused by
// tokens with an unknown kid, so a flood of made-up kids cannot turn into a
// flood of requests to the issuer.
const DefaultMinRefresh = 10 * time.Second

// Config configures a Verifier.
type Config struct {
	// Issuer is the authorization server's issuer identifier, compared
	// exactly with each token's iss. Required.
	Issuer string
	// Resource is this MCP endpoint's canonical URL (for example
	// https://bulkguard.example.com/mcp): the resource of the metadata and,
	// per RFC 8707, the audience tokens are issued for. Required.
	Resource string
	// Audience every token's aud must contain. "" → Resource. Some
	// providers issue tokens for an API identifier instead of the URL.
	Audience string
	// JWKSURL is where the issuer publishes its keys. "" → read from the
	// issuer's metadata (RFC 8414, then OpenID Connect discovery).
	JWKSURL string
	// ReadScope is needed by every request; DeleteScope in addition by
	// every tool that is not in ReadTools. "" → the defaults.
	ReadScope, DeleteScope string
	// ReadTools are the tools a token with the read scope may call. Every
	// other tool needs the delete scope too, so a tool nobody listed is
	// never callable with a read-only token.
	ReadTools []string
	// Leeway for exp, nbf and iat. 0 → DefaultLeeway.
	Leeway time.Duration
	// MinRefresh between JWKS fetches for unknown kids. 0 →
	// DefaultMinRefresh.
	MinRefresh time.Duration
	// HTTPClient fetches metadata and keys. nil → a client with a 10 s
	// timeout.
	HTTPClient *http.Client
	// Now is the clock. nil → time.Now.
	Now func() time.Time
}

// Claims is what a verified token says about its bearer.
type Claims struct {
	// Subject identifies the person (sub); it goes on the audit record as
	// the one who confirmed.
	Subject string
	// ClientID is the OAuth client that obtained the token, when the token
	// says (client_id or azp).
	ClientID string
	Scopes   []string
	Expiry   time.Time
}

// HasScope reports whether the token carries scope s.
func (c *Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// Verifier checks bearer tokens for one resource.
type Verifier struct {
	cfg     Config
	jwksURL string
	hc      *http.Client
	now     func() time.Time
	parser  *jwt.Parser

	mu          sync.Mutex
	keys        map[string]any // kid → *rsa.PublicKey or *ecdsa.PublicKey
	algs        map[string]string
	lastRefresh time.Time
	refreshing  chan struct{} // closed when the fetch in flight ends
}

// Errors of Verify. Each is wrapped with a reason that names no secret.
var (
	// ErrInvalidToken: missing, malformed, badly signed, expired, or for
	// someone else. The client should get a new token.
	ErrInvalidToken = errors.New("invalid token")
	// ErrKeysUnavailable: the issuer's keys could not be fetched, so no
	// token can be judged now. Not the client's fault.
	ErrKeysUnavailable = errors.New("the authorization server's keys are unavailable")
)

// New checks the configuration, finds the issuer's JWKS (discovery when
// JWKSURL is unset) and fetches the keys once, so a wrong issuer fails at
// startup rather than at the first request.
func New(ctx context.Context, c Config) (*Verifier, error) {
	if c.Issuer == "" {
		return nil, errors.New("oauth: the issuer is required (--oauth-issuer)")
	}
	if err := checkURL("issuer", c.Issuer); err != nil {
		return nil, err
	}
	if c.Resource == "" {
		return nil, errors.New("oauth: the resource URL is required (the public URL of the /mcp endpoint)")
	}
	if err := checkURL("resource", c.Resource); err != nil {
		return nil, err
	}
	if c.Audience == "" {
		c.Audience = c.Resource
	}
	if c.ReadScope == "" {
		c.ReadScope = DefaultReadScope
	}
	if c.DeleteScope == "" {
		c.DeleteScope = DefaultDeleteScope
	}
	if c.ReadScope == c.DeleteScope {
		return nil, errors.New("oauth: the read and delete scopes must differ, or every reader could delete")
	}
	for _, s := range []string{c.ReadScope, c.DeleteScope} {
		if strings.ContainsAny(s, " \"\\") {
			return nil, fmt.Errorf("oauth: scope %q contains a space, quote or backslash", s)
		}
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.MinRefresh == 0 {
		c.MinRefresh = DefaultMinRefresh
	}
	v := &Verifier{cfg: c, hc: c.HTTPClient, now: c.Now, jwksURL: c.JWKSURL}
	if v.hc == nil {
		v.hc = &http.Client{Timeout: 10 * time.Second}
	}
	if v.now == nil {
		v.now = time.Now
	}
	v.parser = jwt.NewParser(
		// Asymmetric only: "none" and HS256 (whose key would be the public
		// key, the classic confusion) never verify.
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg()}),
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(c.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(c.Leeway),
		jwt.WithTimeFunc(v.now),
	)
	if v.jwksURL == "" {
		u, err := v.discover(ctx)
		if err != nil {
			return nil, err
		}
		v.jwksURL = u
	} else if err := checkURL("JWKS URL", v.jwksURL); err != nil {
		return nil, err
	}
	if err := v.refresh(ctx); err != nil {
		return nil, err
	}
	return v, nil
}

// checkURL accepts https, and http only for loopback (tests, a provider on
// the same host): OAuth 2.1 requires TLS everywhere else.
func checkURL(what, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("oauth: the %s %q is not an absolute URL", what, raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		h := u.Hostname()
		if h == "localhost" || h == "127.0.0.1" || h == "::1" {
			return nil
		}
	}
	return fmt.Errorf("oauth: the %s %q must use https (http only on loopback)", what, raw)
}

// ReadScope and DeleteScope are the effective scope names.
func (v *Verifier) ReadScope() string   { return v.cfg.ReadScope }
func (v *Verifier) DeleteScope() string { return v.cfg.DeleteScope }

// ScopesFor lists the scopes a call of tool needs.
func (v *Verifier) ScopesFor(tool string) []string {
	if slices.Contains(v.cfg.ReadTools, tool) {
		return []string{v.cfg.ReadScope}
	}
	return []string{v.cfg.ReadScope, v.cfg.DeleteScope}
}

// Missing returns the scopes of need that c lacks.
func Missing(c *Claims, need []string) []string {
	var out []string
	for _, s := range need {
		if !c.HasScope(s) {
			out = append(out, s)
		}
	}
	return out
}

type tokenClaims struct {
	jwt.RegisteredClaims
	Scope    string          `json:"scope"`
	Scp      json.RawMessage `json:"scp"`
	ClientID string          `json:"client_id"`
	Azp      string          `json:"azp"`
}

// Verify checks the token's signature, issuer, audience, expiry and
// not-before, and that it names a subject.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Claims, error) {
	var tc tokenClaims
	_, err := v.parser.ParseWithClaims(raw, &tc, func(t *jwt.Token) (any, error) {
		return v.key(ctx, t)
	})
	if err != nil {
		if errors.Is(err, ErrKeysUnavailable) {
			return nil, ErrKeysUnavailable
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalidToken, reason(err))
	}
	if tc.Subject == "" {
		return nil, fmt.Errorf("%w: the token names no subject (sub)", ErrInvalidToken)
	}
	c := &Claims{Subject: tc.Subject, ClientID: tc.ClientID, Scopes: strings.Fields(tc.Scope)}
	if c.ClientID == "" {
		c.ClientID = tc.Azp
	}
	// Some providers (Okta, Entra ID) put scopes in scp, as a list or a
	// space-separated string, instead of RFC 9068's scope.
	if len(tc.Scp) > 0 {
		var list []string
		var s string
		switch {
		case json.Unmarshal(tc.Scp, &list) == nil:
			c.Scopes = append(c.Scopes, list...)
		case json.Unmarshal(tc.Scp, &s) == nil:
			c.Scopes = append(c.Scopes, strings.Fields(s)...)
		}
	}
	if tc.ExpiresAt != nil {
		c.Expiry = tc.ExpiresAt.Time
	}
	return c, nil
}

// reason says what was wrong with a token in words for the error
// description of a challenge; it never repeats the token.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is not a well-formed JWT"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's signing key is not one the issuer publishes"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the token's signature is invalid or its algorithm is not RS256 or ES256"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the token was issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "the token is from another issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "the token is not for this resource (aud)"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token lacks a required claim (exp)"
	}
	return "the token could not be verified"
}

// key finds the public key for t: by kid, refreshing the key set once when
// the kid is unknown (the issuer may have rotated); without a kid, the one
// key of the token's type when there is exactly one.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	alg := t.Method.Alg()
	if k, ok := v.lookup(kid, alg); ok {
		return k, nil
	}
	if err := v.refreshForUnknown(ctx); err != nil {
		return nil, err
	}
	if k, ok := v.lookup(kid, alg); ok {
		return k, nil
	}
	return nil, errors.New("unknown signing key")
}

func (v *Verifier) lookup(kid, alg string) (any, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if kid == "" {
		var found any
		n := 0
		for id, k := range v.keys {
			if fits(k, alg) && (v.algs[id] == "" || v.algs[id] == alg) {
				found, n = k, n+1
			}
		}
		return found, n == 1
	}
	k, ok := v.keys[kid]
	if !ok || !fits(k, alg) || (v.algs[kid] != "" && v.algs[kid] != alg) {
		return nil, false
	}
	return k, true
}

// fits: an RSA key only for RS256, a P-256 key only for ES256.
func fits(k any, alg string) bool {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve.Params().Name == "P-256"
	}
	return false
}

// refreshForUnknown fetches the key set again unless that happened less
// than MinRefresh ago; concurrent callers share one fetch.
func (v *Verifier) refreshForUnknown(ctx context.Context) error {
	v.mu.Lock()
	if ch := v.refreshing; ch != nil {
		v.mu.Unlock()
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			return ErrKeysUnavailable
		}
	}
	if v.now().Sub(v.lastRefresh) < v.cfg.MinRefresh {
		v.mu.Unlock()
		return nil
	}
	v.mu.Unlock()
	err := v.refresh(ctx)
	if err != nil && errors.Is(err, ErrKeysUnavailable) {
		// The keys we have still verify tokens signed with them; only
		// this token, with its unknown kid, cannot be judged.
		return nil
	}
	return err
}

// refresh fetches the key set and replaces the cached one.
func (v *Verifier) refresh(ctx context.Context) error {
	v.mu.Lock()
	if v.refreshing != nil {
		ch := v.refreshing
		v.mu.Unlock()
		<-ch
		return nil
	}
	ch := make(chan struct{})
	v.refreshing = ch
	v.mu.Unlock()

	keys, algs, err := v.fetchKeys(ctx)

	v.mu.Lock()
	defer v.mu.Unlock()
	v.refreshing = nil
	close(ch)
	v.lastRefresh = v.now()
	if err != nil {
		return err
	}
	v.keys, v.algs = keys, algs
	return nil
}
