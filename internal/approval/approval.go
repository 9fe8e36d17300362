// Package approval serves the page where a person approves one destructive
// action — "an approval of action X for target Y" (a create for a plan, a
// resume for a job, a restore for a backup) — by typing its phrase in a
// browser. A model can type a phrase into a tool argument, and text injected
// into a lead name can tell it to; it cannot click through a page it never
// sees. The page is served on loopback only, on a random port opened the
// first time one is offered (also under stdio), and each page is:
//
//   - one-time: once approved, refused or expired, its link only says so;
//   - bound to the action, the target, the principal (the Close credential
//     the MCP caller used) and the phrase; the approval is consumed by the
//     first Take for exactly those;
//   - expiring with what it approves (the plan's expiry), at most MaxTTL;
//   - CSRF-safe: the POST must carry the page's random token in a hidden
//     field and in a SameSite=Strict cookie, and an Origin of this server;
//   - Host-checked (DNS rebinding): only 127.0.0.1:port and localhost:port;
//   - addressed by a random token only, no other secret in the URL;
//   - escaped: everything shown goes through html/template, because lead
//     names are text anyone can type.
//
// The package knows nothing about MCP or the guard: the tools layer offers
// pages, hands their URLs to the client (URL-mode elicitation, or the model
// shows the link) and takes the approval before asking the guard to act.
package approval

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxTTL bounds how long a page lives, whatever it approves.
const MaxTTL = 15 * time.Minute

// maxAttempts is how many wrong phrases a page takes before it is spent:
// enough for typos, too few to guess.
const maxAttempts = 5

// Item is one sample object shown on the page.
type Item struct {
	ID     string
	Name   string
	Detail string
}

// Request is what a page asks the person to approve. Every string is shown
// escaped; none is trusted.
type Request struct {
	// Action and Target identify what is approved, e.g. "create" and a plan
	// id, "restore" and a backup id. Principal binds it to one credential.
	Action    string
	Target    string
	Principal string
	// Phrase is what the person types.
	Phrase string
	// Title is the page's heading, e.g. "Delete 42 leads".
	Title string
	// Summary says in words what will happen.
	Summary string
	// Count and ObjectType: how many objects the action touches.
	Count      int
	ObjectType string
	// OrgTotal is how many objects of the type the organization has; 0 when
	// unknown (then no share is shown).
	OrgTotal int
	Sample   []Item
	// Backup is the backup's status in words; "" when there is none to tell.
	Backup string
	// Irreversible adds "This cannot be undone".
	Irreversible bool
	Environment  string
	Warnings     []string
	// ExpiresAt is when what is approved expires; zero means MaxTTL.
	ExpiresAt time.Time
}

// Options configure a Server.
type Options struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger gets one line per page offered and decided (never a token).
	Logger *slog.Logger
}

type pageState int

const (
	pageOpen pageState = iota
	pageApproved
	pageUsed    // approved, and the approval was taken
	pageRefused // too many wrong phrases
)

type page struct {
	req      Request
	token    string
	csrf     string
	expires  time.Time
	state    pageState
	attempts int
	approved chan struct{} // closed on approval
}

type key struct{ action, target, principal string }

// Server serves approval pages. The zero value is not usable; call New.
type Server struct {
	now func() time.Time
	log *slog.Logger

	mu    sync.Mutex
	pages map[string]*page // by token
	byKey map[key]*page    // the latest page of each approval
	srv   *http.Server
	port  string
}

// New returns a server; it listens only once the first page is offered.
func New(o Options) *Server {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{now: now, log: log, pages: map[string]*page{}, byKey: map[key]*page{}}
}

// Offer returns the URL of the page approving r, starting the listener on
// first use. While a page for the same action, target and principal is
// still open (and for the same phrase) its URL is returned again, so a
// model that calls twice does not scatter links.
func (s *Server) Offer(r Request) (string, error) {
	if r.Action == "" || r.Target == "" || r.Principal == "" || r.Phrase == "" {
		return "", errors.New("approval: a request needs an action, a target, a principal and a phrase")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.listenLocked(); err != nil {
		return "", err
	}
	now := s.now()
	s.sweepLocked(now)
	k := key{r.Action, r.Target, r.Principal}
	if p := s.byKey[k]; p != nil && p.state == pageOpen && p.req.Phrase == r.Phrase && now.Before(p.expires) {
		return s.urlLocked(p), nil
	}
	exp := now.Add(MaxTTL)
	if !r.ExpiresAt.IsZero() && r.ExpiresAt.Before(exp) {
		exp = r.ExpiresAt
	}
	if !now.Before(exp) {
		return "", errors.New("approval: what is to be approved has already expired")
	}
	p := &page{req: r, token: randomToken(), csrf: randomToken(), expires: exp, approved: make(chan struct{})}
	s.pages[p.token] = p
	s.byKey[k] = p
	s.log.Info("bulkguard.approval offered", "action", r.Action, "target", r.Target, "expires", exp.UTC().Format(time.RFC3339))
	return s.urlLocked(p), nil
}

// Take consumes the approval of action on target by principal for phrase:
// it reports true once, for a page the person approved that has not
// expired, and never again.
func (s *Server) Take(action, target, principal, phrase string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.byKey[key{action, target, principal}]
	if p == nil || p.state != pageApproved || p.req.Phrase != phrase || !s.now().Before(p.expires) {
		return false
	}
	p.state = pageUsed
	s.log.Info("bulkguard.approval taken", "action", action, "target", target)
	return true
}

// Wait blocks until the latest page for action, target and principal is
// approved, ctx ends or the page can no longer be approved; it reports
// whether it was approved (Take still consumes it).
func (s *Server) Wait(ctx context.Context, action, target, principal string) bool {
	s.mu.Lock()
	p := s.byKey[key{action, target, principal}]
	s.mu.Unlock()
	if p == nil {
		return false
	}
	t := time.NewTimer(max(time.Until(p.expires), 0))
	defer t.Stop()
	select {
	case <-p.approved:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// Close stops the listener, if one was started.
func (s *Server) Close() error {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// listenLocked opens the loopback listener once.
func (s *Server) listenLocked() error {
	if s.srv != nil {
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("approval: listen on loopback: %w", err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s.port = port
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	srv := s.srv
	go func() { _ = srv.Serve(ln) }()
	s.log.Info("bulkguard.approval page server listening", "addr", ln.Addr().String())
	return nil
}

func (s *Server) urlLocked(p *page) string {
	return "http://127.0.0.1:" + s.port + "/approve/" + p.token
}

// sweepLocked forgets pages well past expiry (kept a while so that an old
// link says "expired" rather than "unknown").
func (s *Server) sweepLocked(now time.Time) {
	for t, p := range s.pages {
		if now.After(p.expires.Add(time.Hour)) {
			delete(s.pages, t)
			k := key{p.req.Action, p.req.Target, p.req.Principal}
			if s.byKey[k] == p {
				delete(s.byKey, k)
			}
		}
	}
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func equal(a, b string) bool {
	return len(a) == len(b) && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// allowedHost reports whether host (a Host header or an Origin's host) is
// this server: loopback by name or address, on its own port. Anything else
// is a rebinding attempt or a misdirected request.
func (s *Server) allowedHost(host string) bool {
	s.mu.Lock()
	port := s.port
	s.mu.Unlock()
	return host == "127.0.0.1:"+port || host == "localhost:"+port
}

// ServeHTTP serves GET and POST /approve/{token}.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer a browser sends
	// "Origin: null" with the form, and the Origin check needs the real one.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if !s.allowedHost(r.Host) {
		s.render(w, http.StatusMisdirectedRequest, view{Refused: "This page is served only at 127.0.0.1 or localhost. Nothing was approved."})
		return
	}
	token, ok := strings.CutPrefix(r.URL.Path, "/approve/")
	if !ok || token == "" || strings.Contains(token, "/") {
		s.render(w, http.StatusNotFound, view{Refused: "There is no approval page here."})
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.get(w, token)
	case http.MethodPost:
		s.post(w, r, token)
	default:
		h.Set("Allow", "GET, POST")
		s.render(w, http.StatusMethodNotAllowed, view{Refused: "Only GET and POST are served here."})
	}
}

// lookup finds an open page or says why it cannot be used.
func (s *Server) lookupLocked(token string) (*page, int, string) {
	p := s.pages[token]
	switch {
	case p == nil:
		return nil, http.StatusNotFound, "This approval link is unknown: it may be mistyped, or the server restarted. Nothing was approved. Ask your assistant for a new one."
	case p.state == pageApproved || p.state == pageUsed:
		return nil, http.StatusGone, "This approval link was already used. Each link approves once; nothing more was approved."
	case p.state == pageRefused:
		return nil, http.StatusGone, "This approval link is spent after too many wrong phrases. Nothing was approved. Ask your assistant for a new one."
	case !s.now().Before(p.expires):
		return nil, http.StatusGone, "This approval link has expired. Nothing was approved. Ask your assistant to preview again."
	}
	return p, http.StatusOK, ""
}

func (s *Server) get(w http.ResponseWriter, token string) {
	s.mu.Lock()
	p, status, why := s.lookupLocked(token)
	var v view
	if p != nil {
		v = s.formView(p, "")
	}
	s.mu.Unlock()
	if p == nil {
		s.render(w, status, view{Refused: why})
		return
	}
	s.setCookie(w, p)
	s.render(w, http.StatusOK, v)
}

func (s *Server) setCookie(w http.ResponseWriter, p *page) {
	http.SetCookie(w, &http.Cookie{
		Name:     "bulkguard_csrf",
		Value:    p.csrf,
		Path:     "/approve/" + p.token,
		HttpOnly: true,
		// Browsers treat http://127.0.0.1 and localhost as secure
		// contexts, so Secure holds here too.
		Secure:   true,
		SameSite: http.SameSiteStrictMode,
		Expires:  p.expires,
	})
}

func (s *Server) post(w http.ResponseWriter, r *http.Request, token string) {
	// A browser sends Origin with every form POST; a cross-site page's
	// Origin is its own. Without a matching one the request did not come
	// from this page.
	origin := r.Header.Get("Origin")
	host, ok := strings.CutPrefix(origin, "http://")
	if !ok || !s.allowedHost(host) {
		s.render(w, http.StatusForbidden, view{Refused: "This approval was not sent from the approval page (its Origin is missing or foreign). Nothing was approved."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		s.render(w, http.StatusBadRequest, view{Refused: "The form could not be read. Nothing was approved."})
		return
	}
	cookie, err := r.Cookie("bulkguard_csrf")
	s.mu.Lock()
	defer s.mu.Unlock()
	p, status, why := s.lookupLocked(token)
	if p == nil {
		s.render(w, status, view{Refused: why})
		return
	}
	if err != nil || !equal(cookie.Value, p.csrf) || !equal(r.PostForm.Get("csrf"), p.csrf) {
		s.render(w, http.StatusForbidden, view{Refused: "This approval did not come from the page this server showed (the form's token is missing or wrong). Nothing was approved. Open the link again."})
		return
	}
	if typed := r.PostForm.Get("phrase"); !equal(typed, p.req.Phrase) {
		p.attempts++
		if p.attempts >= maxAttempts {
			p.state = pageRefused
			s.log.Info("bulkguard.approval refused", "action", p.req.Action, "target", p.req.Target, "reason", "too many wrong phrases")
			s.render(w, http.StatusForbidden, view{Refused: "That was not the phrase, too many times: this link is spent. Nothing was approved."})
			return
		}
		s.render(w, http.StatusUnprocessableEntity, s.formView(p, "That is not the phrase, so nothing was approved. Type it exactly, capitals included."))
		return
	}
	p.state = pageApproved
	close(p.approved)
	s.log.Info("bulkguard.approval approved", "action", p.req.Action, "target", p.req.Target)
	s.render(w, http.StatusOK, view{Approved: true, Title: p.req.Title})
}
