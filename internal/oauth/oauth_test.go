package oauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/bulkguard/bulkguard/internal/oauth"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

const (
	resource = "http://127.0.0.1:8080/mcp"
	read     = "bulkguard:read"
	del      = "bulkguard:delete"
)

var readTools = []string{"preview_bulk_delete", "list_bulk_deletes", "get_bulk_delete", "lookup_close_ids", "pause_bulk_delete"}

// issuer is an authorization server started in the test: metadata and a
// JWKS over HTTP, and keys the test signs tokens with.
type issuer struct {
	srv     *httptest.Server
	rsaKey  *rsa.PrivateKey
	ecKey   *ecdsa.PrivateKey
	fetches atomic.Int32
	// oidcOnly: serve only OpenID Connect discovery; badIssuer: metadata
	// names another issuer; jwksDown: the JWKS answers 500.
	oidcOnly, badIssuer, jwksDown atomic.Bool

	mu   sync.Mutex
	keys []map[string]string
}

var (
	keysOnce      sync.Once
	rsaKey, rsa2  *rsa.PrivateKey
	ecKey         *ecdsa.PrivateKey
	errGenerating error
)

// testKeys are generated once: RSA generation is slow under -race.
func testKeys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		if rsaKey, errGenerating = rsa.GenerateKey(rand.Reader, 2048); errGenerating != nil {
			return
		}
		if rsa2, errGenerating = rsa.GenerateKey(rand.Reader, 2048); errGenerating != nil {
			return
		}
		ecKey, errGenerating = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	if errGenerating != nil {
		t.Fatal(errGenerating)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]string {
	return map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PublicKey) map[string]string {
	pt, err := k.Bytes() // uncompressed: 0x04 ‖ X ‖ Y
	if err != nil {
		panic(err)
	}
	return map[string]string{"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
		"x": b64(pt[1:33]), "y": b64(pt[33:])}
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	testKeys(t)
	is := &issuer{rsaKey: rsaKey, ecKey: ecKey}
	is.keys = []map[string]string{rsaJWK("rsa-1", &rsaKey.PublicKey), ecJWK("ec-1", &ecKey.PublicKey),
		// An encryption key and a short RSA key are published too and
		// must be ignored.
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(rsa2.N.Bytes()), "e": "AQAB"},
		{"kty": "RSA", "kid": "short", "n": b64(big.NewInt(12345).Bytes()), "e": "AQAB"}}
	mux := http.NewServeMux()
	md := func(w http.ResponseWriter, _ *http.Request) {
		iss := is.srv.URL
		if is.badIssuer.Load() {
			iss = "https://evil.example"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": is.srv.URL + "/jwks"})
	}
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		if is.oidcOnly.Load() {
			http.NotFound(w, r)
			return
		}
		md(w, r)
	})
	mux.HandleFunc("/.well-known/openid-configuration", md)
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		is.fetches.Add(1)
		if is.jwksDown.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		is.mu.Lock()
		defer is.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": is.keys})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) publish(k map[string]string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, k)
}

// claims are a valid token's claims for the resource with scope.
func (is *issuer) claims(scope string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": is.srv.URL, "aud": resource, "sub": "user-42", "client_id": "claude",
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": scope,
	}
}

func sign(t *testing.T, m jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (is *issuer) verifier(t *testing.T, mod func(*oauth.Config)) *oauth.Verifier {
	t.Helper()
	c := oauth.Config{Issuer: is.srv.URL, Resource: resource, ReadTools: readTools}
	if mod != nil {
		mod(&c)
	}
	v, err := oauth.New(context.Background(), c)
	if err != nil {
		t.Fatalf("oauth.New: %v", err)
	}
	return v
}

// seen is what the protected handler saw of a request.
type seen struct {
	mu      sync.Mutex
	subject string
	auth    string
	calls   int
}

// protect serves h behind Authenticate and AuthorizeTools, as the HTTP
// transport does.
func protect(t *testing.T, v *oauth.Verifier) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := oauth.ClaimsFrom(r.Context())
		s.mu.Lock()
		s.calls++
		s.auth = r.Header.Get("Authorization")
		if ok {
			s.subject = c.Subject
		}
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":{}}`)
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", v.Authenticate(v.AuthorizeTools(h)))
	for _, p := range v.MetadataPaths() {
		mux.Handle(p, v.MetadataHandler())
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, s
}

func post(t *testing.T, srv *httptest.Server, token, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/mcp", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp
}

func toolCall(name string) string {
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + name + `","arguments":{}}}`
}

func TestTokens(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(t, nil)
	srv, s := protect(t, v)
	hs := jwt.SigningMethodHS256
	pubDER, err := x509.MarshalPKIXPublicKey(&is.rsaKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name   string
		token  func() string
		status int
		// challenge must contain these.
		challenge []string
	}{
		{"valid RS256", func() string { return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims(read)) }, 200, nil},
		{"valid ES256", func() string { return sign(t, jwt.SigningMethodES256, "ec-1", is.ecKey, is.claims(read)) }, 200, nil},
		{"valid without kid (one key of the type)", func() string { return sign(t, jwt.SigningMethodES256, "", is.ecKey, is.claims(read)) }, 200, nil},
		{"expired within the leeway", func() string {
			c := is.claims(read)
			c["exp"] = time.Now().Add(-10 * time.Second).Unix()
			return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c)
		}, 200, nil},
		{"no token", func() string { return "" }, 401, []string{`resource_metadata="http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"`, `scope="bulkguard:read"`}},
		{"not a JWT", func() string { return "opaque-token" }, 401, []string{`error="invalid_token"`, "well-formed"}},
		{"expired", func() string {
			c := is.claims(read)
			c["exp"] = time.Now().Add(-2 * time.Minute).Unix()
			return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c)
		}, 401, []string{`error="invalid_token"`, "expired"}},
		{"no expiry", func() string {
			c := is.claims(read)
			delete(c, "exp")
			return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c)
		}, 401, []string{`error="invalid_token"`}},
		{"not valid yet", func() string {
			c := is.claims(read)
			c["nbf"] = time.Now().Add(2 * time.Minute).Unix()
			return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c)
		}, 401, []string{`error="invalid_token"`, "nbf"}},
		{"wrong audience", func() string {
			c := is.claims(read)
			c["aud"] = "https://other.example/mcp"
			return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c)
		}, 401, []string{`error="invalid_token"`, "aud"}},
		{"wrong issuer", func() string {
			c := is.claims(read)
			c["iss"] = "https://evil.example"
			return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c)
		}, 401, []string{`error="invalid_token"`, "another issuer"}},
		{"no subject", func() string {
			c := is.claims(read)
			delete(c, "sub")
			return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c)
		}, 401, []string{`error="invalid_token"`, "sub"}},
		{"missing read scope", func() string { return sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims("profile")) }, 403, []string{`error="insufficient_scope"`, `scope="bulkguard:read"`}},
		{"tampered signature", func() string {
			tok := sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims(read))
			parts := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			sig[10] ^= 0x01
			return parts[0] + "." + parts[1] + "." + b64(sig)
		}, 401, []string{`error="invalid_token"`, "signature"}},
		{"tampered payload", func() string {
			tok := sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims(read))
			parts := strings.Split(tok, ".")
			c := is.claims(read + " " + del)
			payload, _ := json.Marshal(c)
			return parts[0] + "." + b64(payload) + "." + parts[2]
		}, 401, []string{`error="invalid_token"`}},
		{"signed by a key the issuer does not publish", func() string { return sign(t, jwt.SigningMethodRS256, "rsa-1", rsa2, is.claims(read)) }, 401, []string{`error="invalid_token"`}},
		{"unknown kid", func() string { return sign(t, jwt.SigningMethodRS256, "nope", rsa2, is.claims(read)) }, 401, []string{`error="invalid_token"`, "signing key"}},
		{"RSA key named by an EC kid", func() string { return sign(t, jwt.SigningMethodRS256, "ec-1", is.rsaKey, is.claims(read)) }, 401, []string{`error="invalid_token"`}},
		{"alg none", func() string {
			return sign(t, jwt.SigningMethodNone, "rsa-1", jwt.UnsafeAllowNoneSignatureType, is.claims(read))
		}, 401, []string{`error="invalid_token"`}},
		{"HS256 keyed with the public key", func() string { return sign(t, hs, "rsa-1", pubDER, is.claims(read)) }, 401, []string{`error="invalid_token"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.mu.Lock()
			before := s.calls
			s.subject, s.auth = "", ""
			s.mu.Unlock()
			resp := post(t, srv, tc.token(), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (WWW-Authenticate: %s)", resp.StatusCode, tc.status, resp.Header.Get("WWW-Authenticate"))
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if tc.status != 200 {
				if s.calls != before {
					t.Fatal("the protected handler ran for a refused request")
				}
				ch := resp.Header.Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, "Bearer ") {
					t.Fatalf("WWW-Authenticate %q is not a Bearer challenge", ch)
				}
				for _, want := range append(tc.challenge, "resource_metadata=") {
					if !strings.Contains(ch, want) {
						t.Errorf("WWW-Authenticate %q lacks %q", ch, want)
					}
				}
				return
			}
			if s.subject != "user-42" {
				t.Errorf("handler saw subject %q, want user-42", s.subject)
			}
			if s.auth != "" {
				t.Errorf("handler saw Authorization %q: the token must not go further", s.auth)
			}
		})
	}
}

func TestToolScopes(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(t, nil)
	srv, _ := protect(t, v)
	reader := sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims(read))
	deleter := sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims(read+" "+del))
	onlyDelete := sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims(del))
	tests := []struct {
		name, token, body string
		status            int
		// scope the 403 challenge asks for; "" = read and delete.
		scope string
	}{
		{"reader previews", reader, toolCall("preview_bulk_delete"), 200, ""},
		{"reader lists", reader, toolCall("list_bulk_deletes"), 200, ""},
		{"reader gets", reader, toolCall("get_bulk_delete"), 200, ""},
		{"reader looks up", reader, toolCall("lookup_close_ids"), 200, ""},
		{"reader pauses", reader, toolCall("pause_bulk_delete"), 200, ""},
		{"reader lists tools", reader, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, 200, ""},
		{"reader creates", reader, toolCall("create_bulk_delete"), 403, ""},
		{"reader resumes", reader, toolCall("resume_bulk_delete"), 403, ""},
		{"reader restores", reader, toolCall("restore_bulk_delete"), 403, ""},
		{"reader calls a tool nobody listed", reader, toolCall("something_new"), 403, ""},
		{"reader hides a create in a batch", reader, `[` + toolCall("preview_bulk_delete") + `,` + toolCall("create_bulk_delete") + `]`, 403, ""},
		{"reader with a capitalised field name", reader, `{"jsonrpc":"2.0","id":1,"Method":"tools/call","params":{"Name":"create_bulk_delete"}}`, 403, ""},
		{"deleter creates", deleter, toolCall("create_bulk_delete"), 200, ""},
		{"deleter resumes", deleter, toolCall("resume_bulk_delete"), 200, ""},
		{"delete scope alone is not enough", onlyDelete, toolCall("create_bulk_delete"), 403, read},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := post(t, srv, tc.token, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 403 {
				scope := tc.scope
				if scope == "" {
					scope = read + " " + del
				}
				ch := resp.Header.Get("WWW-Authenticate")
				for _, want := range []string{`error="insufficient_scope"`, `scope="` + scope + `"`, `resource_metadata="`} {
					if !strings.Contains(ch, want) {
						t.Errorf("WWW-Authenticate %q lacks %q", ch, want)
					}
				}
			}
		})
	}
}

func TestScopeNamesAndForms(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(t, func(c *oauth.Config) { c.ReadScope, c.DeleteScope = "mcp.read", "mcp.delete" })
	for _, tc := range []struct {
		name  string
		extra jwt.MapClaims
		want  []string
	}{
		{"scope string", jwt.MapClaims{"scope": "mcp.read mcp.delete"}, []string{"mcp.read", "mcp.delete"}},
		{"scp list", jwt.MapClaims{"scope": nil, "scp": []string{"mcp.read"}}, []string{"mcp.read"}},
		{"scp string", jwt.MapClaims{"scope": nil, "scp": "mcp.read mcp.delete"}, []string{"mcp.read", "mcp.delete"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := is.claims("")
			for k, val := range tc.extra {
				if val == nil {
					delete(c, k)
				} else {
					c[k] = val
				}
			}
			got, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, c))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got.Scopes, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("scopes %v, want %v", got.Scopes, tc.want)
			}
			if got.ClientID != "claude" {
				t.Fatalf("client id %q", got.ClientID)
			}
		})
	}
	if got := v.ScopesFor("create_bulk_delete"); strings.Join(got, " ") != "mcp.read mcp.delete" {
		t.Fatalf("ScopesFor(create) = %v", got)
	}
}

// TestKeyRotation: a token signed with a key published after startup is
// accepted after one refetch; unknown kids refetch at most once per
// MinRefresh; with the JWKS down, the cached keys still verify.
func TestKeyRotation(t *testing.T) {
	is := newIssuer(t)
	clock := &testkit.Clock{}
	v := is.verifier(t, func(c *oauth.Config) { c.MinRefresh, c.Now = time.Minute, clock.Now })
	ctx := context.Background()
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches at startup, want 1", n)
	}
	is.publish(rsaJWK("rsa-2", &rsa2.PublicKey))
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "rsa-2", rsa2, is.claims(read))); err == nil {
		t.Fatal("a key published less than MinRefresh after the last fetch was used without a fetch")
	}
	clock.Advance(time.Minute + time.Second)
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "rsa-2", rsa2, is.claims(read))); err != nil {
		t.Fatalf("token of a rotated-in key: %v", err)
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after one unknown kid, want 2", n)
	}
	for range 5 {
		if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, "made-up", rsa2, is.claims(read))); err == nil {
			t.Fatal("a token with a made-up kid verified")
		}
	}
	if n := is.fetches.Load(); n != 2 {
		t.Fatalf("%d JWKS fetches after made-up kids within MinRefresh, want still 2", n)
	}

	v2 := is.verifier(t, func(c *oauth.Config) { c.MinRefresh = time.Nanosecond })
	is.jwksDown.Store(true)
	if _, err := v2.Verify(ctx, sign(t, jwt.SigningMethodRS256, "other", rsa2, is.claims(read))); err == nil {
		t.Fatal("a token with an unknown kid verified while the JWKS was down")
	}
	if _, err := v2.Verify(ctx, sign(t, jwt.SigningMethodES256, "ec-1", is.ecKey, is.claims(read))); err != nil {
		t.Fatalf("a token of a cached key with the JWKS down: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	t.Run("OpenID Connect discovery when RFC 8414 is absent", func(t *testing.T) {
		is := newIssuer(t)
		is.oidcOnly.Store(true)
		v := is.verifier(t, nil)
		if _, err := v.Verify(context.Background(), sign(t, jwt.SigningMethodRS256, "rsa-1", is.rsaKey, is.claims(read))); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name string
		mod  func(*issuer, *oauth.Config)
		want string
	}{
		{"metadata names another issuer", func(is *issuer, _ *oauth.Config) { is.badIssuer.Store(true) }, "names the issuer"},
		{"JWKS down at startup", func(is *issuer, _ *oauth.Config) { is.jwksDown.Store(true) }, "keys are unavailable"},
		{"plain http issuer off loopback", func(_ *issuer, c *oauth.Config) { c.Issuer = "http://auth.example.com" }, "https"},
		{"no resource", func(_ *issuer, c *oauth.Config) { c.Resource = "" }, "resource"},
		{"same read and delete scope", func(_ *issuer, c *oauth.Config) { c.DeleteScope = oauth.DefaultReadScope }, "differ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := newIssuer(t)
			c := oauth.Config{Issuer: is.srv.URL, Resource: resource}
			tc.mod(is, &c)
			_, err := oauth.New(context.Background(), c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %q", err, tc.want)
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	is := newIssuer(t)
	v := is.verifier(t, nil)
	srv, _ := protect(t, v)
	if got, want := v.MetadataURL(), "http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp"; got != want {
		t.Fatalf("MetadataURL %s, want %s", got, want)
	}
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var md struct {
			Resource             string   `json:"resource"`
			AuthorizationServers []string `json:"authorization_servers"`
			ScopesSupported      []string `json:"scopes_supported"`
			BearerMethods        []string `json:"bearer_methods_supported"`
		}
		err = json.NewDecoder(resp.Body).Decode(&md)
		_ = resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if resp.StatusCode != 200 || md.Resource != resource || len(md.AuthorizationServers) != 1 || md.AuthorizationServers[0] != is.srv.URL ||
			strings.Join(md.ScopesSupported, " ") != read+" "+del || strings.Join(md.BearerMethods, " ") != "header" {
			t.Fatalf("%s: %d %+v", path, resp.StatusCode, md)
		}
	}
}
