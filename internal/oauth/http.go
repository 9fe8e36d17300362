package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// wellKnown is RFC 9728's well-known path prefix.
const wellKnown = "/.well-known/oauth-protected-resource"

// MetadataURL is where the protected-resource metadata is served: RFC
// 9728 §3.1 inserts the well-known path between the host and the
// resource's path (https://host/.well-known/oauth-protected-resource/mcp).
func (v *Verifier) MetadataURL() string {
	u, _ := url.Parse(v.cfg.Resource) // checked in New
	m := url.URL{Scheme: u.Scheme, Host: u.Host, Path: wellKnown + strings.TrimSuffix(u.Path, "/")}
	return m.String()
}

// MetadataPaths are the paths to serve MetadataHandler on: RFC 9728's
// path-inserted one, and the bare well-known path that clients written
// against the 2025-06-18 MCP spec try first.
func (v *Verifier) MetadataPaths() []string {
	u, _ := url.Parse(v.MetadataURL())
	if u.Path == wellKnown {
		return []string{wellKnown}
	}
	return []string{u.Path, wellKnown}
}

// MetadataHandler serves the RFC 9728 document: which resource this is,
// which authorization server issues its tokens, and its scopes.
func (v *Verifier) MetadataHandler() http.Handler {
	doc, _ := json.Marshal(map[string]any{
		"resource":                 v.cfg.Resource,
		"authorization_servers":    []string{v.cfg.Issuer},
		"scopes_supported":         []string{v.cfg.ReadScope, v.cfg.DeleteScope},
		"bearer_methods_supported": []string{"header"},
		"resource_name":            "bulkguard",
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// Public, and browser-based clients fetch it cross-origin.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(doc)
	})
}

type ctxKey struct{}

// WithClaims returns ctx carrying c.
func WithClaims(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// ClaimsFrom returns the verified claims Authenticate put on the request's
// context.
func ClaimsFrom(ctx context.Context) (*Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(*Claims)
	return c, ok && c != nil
}

// Authenticate lets a request through only with a valid bearer token. The
// claims go on the context, and the Authorization header is removed so
// that nothing after this point can pass the token on (to Close or a log).
func (v *Verifier) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, present := bearer(r.Header.Values("Authorization"))
		if !present {
			v.challenge(w, http.StatusUnauthorized, "", "missing bearer token: get an access token from "+v.cfg.Issuer+" (the metadata at "+v.MetadataURL()+" says how)", []string{v.cfg.ReadScope})
			return
		}
		c, err := v.Verify(r.Context(), raw)
		switch {
		case errors.Is(err, ErrKeysUnavailable):
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the authorization server's signing keys could not be fetched, so the token cannot be checked now; try again shortly")
			return
		case err != nil:
			v.challenge(w, http.StatusUnauthorized, "invalid_token", err.Error(), []string{v.cfg.ReadScope})
			return
		}
		if missing := Missing(c, []string{v.cfg.ReadScope}); len(missing) > 0 {
			v.challenge(w, http.StatusForbidden, "insufficient_scope", "the token lacks the scope "+v.cfg.ReadScope+", which every request needs", []string{v.cfg.ReadScope})
			return
		}
		r2 := r.WithContext(WithClaims(r.Context(), c))
		r2.Header = r.Header.Clone()
		r2.Header.Del("Authorization")
		next.ServeHTTP(w, r2)
	})
}

// AuthorizeTools answers a tools/call whose tool needs a scope the token
// lacks with 403 insufficient_scope and a challenge naming every scope the
// call needs, so the client can ask the person for more (step-up) and
// retry. It reads the whole body, so put it behind a body size limit, and
// behind Authenticate. The MCP server should check the same scopes on the
// tool call itself too (see ScopesFor): this check is what lets a client
// step up; that one holds whatever the HTTP layer made of the body.
func (v *Verifier) AuthorizeTools(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFrom(r.Context())
		if !ok {
			v.challenge(w, http.StatusUnauthorized, "", "missing bearer token", []string{v.cfg.ReadScope})
			return
		}
		if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_request", "could not read the request body")
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		for _, tool := range calledTools(body) {
			need := v.ScopesFor(tool)
			if missing := Missing(c, need); len(missing) > 0 {
				v.challenge(w, http.StatusForbidden, "insufficient_scope",
					tool+" needs the scope "+strings.Join(missing, " ")+", which this token lacks; nothing was run", need)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// calledTools lists the tools a JSON-RPC message (or batch) calls. It
// decodes with encoding/json into the shapes mcp-go decodes, so both read
// the same method and name (including Go's case-insensitive field match).
func calledTools(body []byte) []string {
	type call struct {
		Method string `json:"method"`
		Params struct {
			Name string `json:"name"`
		} `json:"params"`
	}
	var msgs []call
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		if json.Unmarshal(trimmed, &msgs) != nil {
			return nil
		}
	} else {
		var one call
		if json.Unmarshal(trimmed, &one) != nil {
			return nil
		}
		msgs = []call{one}
	}
	var out []string
	for _, m := range msgs {
		if m.Method == "tools/call" {
			out = append(out, m.Params.Name)
		}
	}
	return out
}

// challenge writes an RFC 6750 §3 answer with the RFC 9728 §5.1
// resource_metadata parameter, which is how MCP clients find the
// authorization server.
func (v *Verifier) challenge(w http.ResponseWriter, status int, code, desc string, scopes []string) {
	var b strings.Builder
	b.WriteString(`Bearer resource_metadata="` + v.MetadataURL() + `"`)
	if len(scopes) > 0 {
		b.WriteString(`, scope="` + strings.Join(scopes, " ") + `"`)
	}
	if code != "" {
		b.WriteString(`, error="` + code + `", error_description="` + quoteSafe(desc) + `"`)
	}
	w.Header().Set("WWW-Authenticate", b.String())
	if code == "" {
		code = "unauthorized"
	}
	writeError(w, status, code, desc)
}

// quoteSafe keeps a description inside its quoted-string: RFC 6750 allows
// only printable ASCII without " and \.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": msg})
}

// bearer extracts the token of exactly one Bearer Authorization header.
func bearer(values []string) (string, bool) {
	if len(values) != 1 {
		return "", false
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
