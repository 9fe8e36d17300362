// Package sandbox is an in-memory Close API: the same paths, JSON shapes,
// status codes and error bodies as Close (docs/close-api.md), over a
// deterministic demo organization or a Close JSON lead export. bulkguard
// runs on it by default, every test runs against it, and people rehearse a
// cleanup on it before touching their real Close account.
//
// Served under /api/v1/: GET /me/, /user/, /status/lead/,
// /custom_field/lead/, /saved_search/ and /saved_search/{id}/, /lead/ and
// /lead/{id}/ (and DELETE /lead/{id}/), /contact/{id}/; POST /data/search/;
// GET and POST /bulk_action/delete/, GET and PUT /bulk_action/delete/{id}/;
// and the writes, exports and event log of docs/close-sandbox-api.md
// (routes.go).
//
// Choices where Close is not documented (each is also noted where made):
//   - A path without its trailing slash is redirected (308) for GET and
//     HEAD, as Close redirects [OBS]; any other method gets a 404 naming
//     the missing slash, so a client that forgets it fails loudly here
//     instead of relying on a redirect of a write.
//   - Pause and resume are PUT /bulk_action/delete/{id}/ with
//     {"status": "paused"|"resuming"} (docs/close-api.md §1.4 infers the
//     endpoint).
//   - A construct the sandbox cannot evaluate is a 400 with the
//     X-Sandbox-Unsupported marker (unsupported.go), not Close's verdict.
//   - Rate limits are one-second windows per API key and endpoint group,
//     and per organization at 3× (ratelimit.go; the groups are inferred).
//
// Go zero values of Options mean "off" or "unlimited" (fast, quiet tests);
// the command line's defaults are the realistic ones (20 requests/s per
// key, 200 deletes/s). This package registers no flags and reads no
// environment: that is the command line's job.
package sandbox

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// DemoAPIKey is the sandbox's API key unless Options.APIKey sets another.
// It is fixed and documented so `curl -u sandbox-demo-key: …` just works; it
// is not a Close credential.
const DemoAPIKey = "sandbox-demo-key"

// MaxLeads is the largest organization the sandbox seeds.
const MaxLeads = 1_000_000

// Options configures a Server.
type Options struct {
	// Seed makes the demo organization: the same seed gives the same
	// organization (with the same clock). 0 means 1.
	Seed int64
	// Leads is how many demo leads to seed: 0 means 2,000, at most
	// 1,000,000. Ignored with EmptyOrg or LoadExport.
	Leads int
	// EmptyOrg seeds users, statuses, custom fields and Smart Views but no
	// leads (tests build their own with AddLead).
	EmptyOrg bool
	// LoadExport is the path of a Close JSON lead export (format json, type
	// leads, docs/close-api.md §6; gzip or plain) to serve instead of demo data.
	LoadExport string
	// APIKey is the key clients must present; empty means DemoAPIKey.
	APIKey string
	// Now is the sandbox clock: seeded dates (spread over the two years
	// before it), job dates, the 7-day resume rule, cursor expiry, index
	// lag and relative date queries. nil means time.Now.
	Now func() time.Time
	// DeleteRate is how many objects a bulk delete removes per second; 0
	// means as fast as it can.
	DeleteRate float64
	// BatchSize is how many objects a job deletes at a time; 0 means 50.
	BatchSize int
	// Latency is added before every response.
	Latency time.Duration
	// RateLimit is the requests per second allowed per API key; 0 is off.
	RateLimit int
	// FailureRate is the share (0–1) of requests answered with a 5xx
	// (FailureStatus, default 503) without being processed.
	FailureRate float64
	// FailureStatus is the status of injected failures; 0 means 503.
	FailureStatus int
	// DropRate is the share (0–1) of requests whose connection is closed
	// without an answer, before they are processed.
	DropRate float64
	// DropAfterCreate > 0: the DropAfterCreate-th accepted bulk-delete
	// create (counted from New or SetFaults) creates the job, then closes
	// the connection without answering. Once.
	DropAfterCreate int
	// IndexLag keeps deleted objects visible to /data/search/ this long
	// after their deletion (docs/close-api.md §2.4 observed 30–60 s).
	IndexLag time.Duration
	// Logger gets debug lines (requests, job progress); nil discards.
	Logger *slog.Logger
	// APIKeys are further keys of the organization, each with its own
	// per-key rate limit and all sharing the organization's.
	APIKeys []string
	// ExportURLTTL is how long an export's download_url works after the
	// GET that issued it; 0 means 60 s, as Close's presigned links.
	ExportURLTTL time.Duration
	// ExportFaults make exports misbehave, for fault tests.
	ExportFaults ExportFaults
}

// Faults are the realism knobs that can change while the server runs.
type Faults struct {
	Latency         time.Duration
	RateLimit       int
	FailureRate     float64
	FailureStatus   int
	DropRate        float64
	DropAfterCreate int
	IndexLag        time.Duration
}

// Server is the sandbox: an http.Handler for /api/v1/… plus the bulk-delete
// job runners.
type Server struct {
	opts   Options
	now    func() time.Time
	log    *slog.Logger
	apiKey string

	mu      sync.RWMutex // guards st, jobs, jobRand
	st      *store
	jobs    []*job
	jobByID map[string]*job
	jobRand *rand.Rand

	cmu     sync.Mutex // guards cursors
	cursors map[string]*cursorState

	fmu         sync.Mutex // guards the fault knobs, dice and rate buckets
	faults      Faults
	dice        *rand.Rand
	createsLeft int
	buckets     map[string]*bucket
	rateNow     func() time.Time // the rate limiter's clock (real time)

	reqMu sync.Mutex
	reqs  map[string]int // "METHOD /api/v1/path/" → count

	api *apiState // events, exports, keys (guarded by mu)

	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once

	// step, when set (tests only), makes every job runner wait for a token
	// before each step and report on stepDone after it, so tests walk a
	// job through its lifecycle deterministically.
	step     chan struct{}
	stepDone chan struct{}
}

// New builds the organization and returns a Server ready to serve.
func New(o Options) (*Server, error) {
	switch {
	case o.Leads < 0 || o.Leads > MaxLeads:
		return nil, fmt.Errorf("sandbox: leads must be between 0 and %d, got %d", MaxLeads, o.Leads)
	case o.DeleteRate < 0:
		return nil, errors.New("sandbox: delete rate must not be negative")
	case o.BatchSize < 0:
		return nil, errors.New("sandbox: batch size must not be negative")
	}
	f := Faults{Latency: o.Latency, RateLimit: o.RateLimit, FailureRate: o.FailureRate, FailureStatus: o.FailureStatus,
		DropRate: o.DropRate, DropAfterCreate: o.DropAfterCreate, IndexLag: o.IndexLag}
	if err := f.validate(); err != nil {
		return nil, err
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Leads == 0 {
		o.Leads = 2000
	}
	if o.BatchSize == 0 {
		o.BatchSize = 50
	}
	if o.APIKey == "" {
		o.APIKey = DemoAPIKey
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{
		opts:    o,
		now:     now,
		log:     log,
		apiKey:  o.APIKey,
		jobByID: map[string]*job{},
		cursors: map[string]*cursorState{},
		jobRand: rand.New(rand.NewPCG(uint64(o.Seed), 0xb01dface)),
		dice:    rand.New(rand.NewPCG(uint64(o.Seed), 0xd1ce)),
		buckets: map[string]*bucket{},
		rateNow: time.Now,
		reqs:    map[string]int{},
		stop:    make(chan struct{}),
	}
	s.setFaultsLocked(f)
	s.api = newAPIState(o)
	t0 := now()
	var err error
	if o.LoadExport != "" {
		s.st, err = loadExportFile(o.LoadExport, o.Seed, t0)
		if err != nil {
			return nil, fmt.Errorf("sandbox: load %s: %w", o.LoadExport, err)
		}
	} else {
		s.st = newStore(o.Seed)
		seedMeta(s.st, o.Seed, t0)
		if !o.EmptyOrg {
			seedLeads(s.st, o.Seed, o.Leads, t0)
		}
		seedViews(s.st, t0)
	}
	s.st.onDeleteRow = s.onDeleteRow
	log.Debug("sandbox ready", "leads", s.st.t[uLead].live, "contacts", s.st.t[uContact].live, "seed", o.Seed)
	return s, nil
}

func (f *Faults) validate() error {
	switch {
	case f.FailureRate < 0 || f.FailureRate > 1:
		return fmt.Errorf("sandbox: failure rate must be between 0 and 1, got %g", f.FailureRate)
	case f.DropRate < 0 || f.DropRate > 1:
		return fmt.Errorf("sandbox: drop rate must be between 0 and 1, got %g", f.DropRate)
	case f.RateLimit < 0:
		return errors.New("sandbox: rate limit must not be negative")
	case f.Latency < 0 || f.IndexLag < 0:
		return errors.New("sandbox: latency and index lag must not be negative")
	case f.DropAfterCreate < 0:
		return errors.New("sandbox: drop-after-create must not be negative")
	case f.FailureStatus != 0 && (f.FailureStatus < 500 || f.FailureStatus > 599):
		return fmt.Errorf("sandbox: failure status must be a 5xx, got %d", f.FailureStatus)
	}
	return nil
}

// SetFaults replaces the realism knobs while the server runs. Invalid
// values (a share outside 0–1, a negative duration) are clamped.
func (s *Server) SetFaults(f Faults) {
	f.FailureRate = clamp01(f.FailureRate)
	f.DropRate = clamp01(f.DropRate)
	f.RateLimit = max(f.RateLimit, 0)
	f.Latency = max(f.Latency, 0)
	f.IndexLag = max(f.IndexLag, 0)
	f.DropAfterCreate = max(f.DropAfterCreate, 0)
	if f.FailureStatus < 500 || f.FailureStatus > 599 {
		f.FailureStatus = 0
	}
	s.fmu.Lock()
	s.setFaultsLocked(f)
	s.fmu.Unlock()
}

// Faults returns the current realism knobs.
func (s *Server) Faults() Faults {
	s.fmu.Lock()
	defer s.fmu.Unlock()
	return s.faults
}

func (s *Server) setFaultsLocked(f Faults) {
	if f.FailureStatus == 0 {
		f.FailureStatus = 503
	}
	s.faults = f
	s.createsLeft = f.DropAfterCreate
	s.buckets = map[string]*bucket{}
}

func clamp01(f float64) float64 { return min(max(f, 0), 1) }

// Close stops the job runners and waits for them. Jobs keep their last
// state; the handler still answers.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// Under the lock, so that no create is between starting a runner
		// (wg.Add) and this.
		s.mu.Lock()
		close(s.stop)
		s.mu.Unlock()
	})
	s.wg.Wait()
}

// APIKey is the key clients must present.
func (s *Server) APIKey() string { return s.apiKey }

// HasLead reports whether the lead exists (not deleted), whatever the
// search index says.
func (s *Server) HasLead(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lt := s.st.t[uLead]
	i, ok := lt.byID[id]
	return ok && lt.dead[i] == 0
}

// HasContact reports whether the contact exists (not deleted).
func (s *Server) HasContact(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ct := s.st.t[uContact]
	i, ok := ct.byID[id]
	return ok && ct.dead[i] == 0
}

// NumLeads is how many leads exist.
func (s *Server) NumLeads() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.t[uLead].live
}

// NumContacts is how many contacts exist.
func (s *Server) NumContacts() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.t[uContact].live
}

// LeadIDs lists the ids of the leads that exist, in insertion order.
func (s *Server) LeadIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lt := s.st.t[uLead]
	out := make([]string, 0, lt.live)
	for i, d := range lt.dead {
		if d == 0 {
			out = append(out, lt.ids[i])
		}
	}
	return out
}

// AddLead adds a lead (with its contacts and addresses) and returns its id.
// It panics if the spec names an unknown status or custom field or reuses
// an id: that is a bug in the calling test, not a runtime condition.
func (s *Server) AddLead(l LeadSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, err := s.st.resolve(&l, s.now())
	if err != nil {
		panic("sandbox.AddLead: " + err.Error())
	}
	i := s.st.insertLead(in)
	return s.st.t[uLead].ids[i]
}

// CustomFieldID returns the id of the lead custom field with this name.
func (s *Server) CustomFieldID(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cf := s.st.customFieldByName(name)
	if cf == nil {
		return "", false
	}
	return cf.ID, true
}

// StatusID returns the id of the lead status with this label.
func (s *Server) StatusID(label string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.st.statusByLabel(label)
	return st.ID, ok
}

// UserID is the id of the user the API key belongs to.
func (s *Server) UserID() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.st.users[0].ID
}

// SmartViewID returns the id of the Smart View with this name.
func (s *Server) SmartViewID(name string) (string, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.st.views {
		if v.Name == name {
			return v.ID, true
		}
	}
	return "", false
}

// Jobs returns every bulk-delete job as Close would show it, in creation
// order.
func (s *Server) Jobs() []Job {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Job, len(s.jobs))
	for i, j := range s.jobs {
		out[i] = j.view()
	}
	return out
}

// Requests counts the requests that reached the server (whatever their
// answer) with this method ("" for any) and a path starting with
// pathPrefix, given either in full ("/api/v1/data/search/") or below the
// base ("/data/search/").
func (s *Server) Requests(method, pathPrefix string) int {
	if !strings.HasPrefix(pathPrefix, apiBase) {
		pathPrefix = apiBase + pathPrefix
	}
	s.reqMu.Lock()
	defer s.reqMu.Unlock()
	n := 0
	for k, c := range s.reqs {
		m, p, _ := strings.Cut(k, " ")
		if (method == "" || strings.EqualFold(m, method)) && strings.HasPrefix(p, pathPrefix) {
			n += c
		}
	}
	return n
}

// ResetRequests zeroes the request counts.
func (s *Server) ResetRequests() {
	s.reqMu.Lock()
	s.reqs = map[string]int{}
	s.reqMu.Unlock()
}

func (s *Server) countRequest(method, path string) {
	s.reqMu.Lock()
	s.reqs[method+" "+path]++
	s.reqMu.Unlock()
}

// sortedKeys is a helper for deterministic iteration.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
