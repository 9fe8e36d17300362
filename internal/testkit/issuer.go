package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer is an OAuth authorization server for tests: RFC 8414 metadata and
// a JWKS with one ES256 key over HTTP, and tokens signed in the test.
type Issuer struct {
	// URL is the issuer identifier (and base URL).
	URL string
	key *ecdsa.PrivateKey
}

// NewIssuer starts an issuer and stops it when tb ends.
func NewIssuer(tb testing.TB) *Issuer {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pt, err := key.PublicKey.Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, err := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "test-1", "use": "sig", "alg": "ES256",
		"x": b64(pt[1:33]), "y": b64(pt[33:]),
	}}})
	if err != nil {
		tb.Fatal(err)
	}
	is := &Issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL, "jwks_uri": is.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	is.URL = srv.URL
	return is
}

// Token is an access token for audience, naming subject, with the
// space-separated scope, valid for five minutes.
func (is *Issuer) Token(tb testing.TB, audience, subject, scope string) string {
	tb.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": is.URL, "aud": audience, "sub": subject, "scope": scope,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
	})
	tok.Header["kid"] = "test-1"
	s, err := tok.SignedString(is.key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
