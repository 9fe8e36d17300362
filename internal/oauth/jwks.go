package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
)

// maxDocument bounds a metadata or JWKS document; real ones are a few KB.
const maxDocument = 1 << 20

// minRSABits: shorter RSA keys are refused (NIST SP 800-57, RFC 7518 §3.3).
const minRSABits = 2048

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// fetchKeys reads the JWKS. Keys it cannot use (encryption keys, other
// types and curves, short RSA keys) are left out rather than failing the
// set, since issuers publish keys for other purposes too.
func (v *Verifier) fetchKeys(ctx context.Context) (map[string]any, map[string]string, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := v.getJSON(ctx, v.jwksURL, &set); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, err)
	}
	keys, algs := map[string]any{}, map[string]string{}
	for i, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pub, err := k.publicKey()
		if err != nil {
			continue
		}
		id := k.Kid
		if id == "" {
			// Kid-less keys still serve kid-less tokens (lookup with "").
			id = fmt.Sprintf("\x00%d", i)
		}
		keys[id], algs[id] = pub, k.Alg
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("%w: %s has no RS256 or ES256 signing key", ErrKeysUnavailable, v.jwksURL)
	}
	return keys, algs, nil
}

func (k jwk) publicKey() (any, error) {
	switch k.Kty {
	case "RSA":
		n, err := b64int(k.N)
		if err != nil {
			return nil, err
		}
		e, err := b64int(k.E)
		if err != nil {
			return nil, err
		}
		if n.BitLen() < minRSABits || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31 {
			return nil, errors.New("unusable RSA key")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case "EC":
		if k.Crv != "P-256" {
			return nil, errors.New("unsupported curve")
		}
		x, err := b64fixed(k.X, 32)
		if err != nil {
			return nil, err
		}
		y, err := b64fixed(k.Y, 32)
		if err != nil {
			return nil, err
		}
		// The parser checks that the point is on the curve.
		point := append(append([]byte{4}, x...), y...)
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	}
	return nil, errors.New("unsupported key type")
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("bad base64url integer")
	}
	return new(big.Int).SetBytes(b), nil
}

func b64fixed(s string, n int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, errors.New("bad coordinate")
	}
	return b, nil
}

// discover reads the issuer's metadata for its jwks_uri: RFC 8414 first
// (the well-known suffix goes between host and path), then OpenID Connect
// (appended to the issuer). The document's issuer must be the configured
// one (RFC 8414 §3.3), so a metadata document cannot redirect trust.
func (v *Verifier) discover(ctx context.Context) (string, error) {
	u, err := url.Parse(v.cfg.Issuer)
	if err != nil {
		return "", err
	}
	path := strings.TrimSuffix(u.Path, "/")
	rfc8414 := *u
	rfc8414.Path = "/.well-known/oauth-authorization-server" + path
	oidc := *u
	oidc.Path = path + "/.well-known/openid-configuration"
	var errs []string
	for _, where := range []string{rfc8414.String(), oidc.String()} {
		var md struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, where, &md); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		if md.Issuer != v.cfg.Issuer {
			return "", fmt.Errorf("oauth: %s names the issuer %q, not %q", where, md.Issuer, v.cfg.Issuer)
		}
		if md.JWKSURI == "" {
			return "", fmt.Errorf("oauth: %s has no jwks_uri; set the JWKS URL yourself", where)
		}
		if err := checkURL("jwks_uri", md.JWKSURI); err != nil {
			return "", err
		}
		return md.JWKSURI, nil
	}
	return "", fmt.Errorf("oauth: could not read the issuer's metadata: %s", strings.Join(errs, "; "))
}

func (v *Verifier) getJSON(ctx context.Context, where string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, where, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", where, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", where, err)
	}
	if len(body) > maxDocument {
		return fmt.Errorf("GET %s: document larger than %d bytes", where, maxDocument)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", where, err)
	}
	return nil
}
