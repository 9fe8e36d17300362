package testkit

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// Balancer is a load balancer for tests: a reverse proxy in front of
// several replicas that sends each request to the next replica that is
// up (round robin, no affinity), or, with Sticky set, every request that
// carries the same value of that header to the same replica (the affinity
// a load balancer gives by hashing a header). Responses stream (SSE).
type Balancer struct {
	// URL is the balancer's address.
	URL string

	sticky string // header to route by; "" is plain round robin

	srv      *httptest.Server
	tr       *http.Transport
	mu       sync.Mutex
	backends []*url.URL
	down     []bool
	next     int
	pinned   map[string]int
	served   []int
}

// NewBalancer starts a round-robin balancer over the replicas' base URLs
// and stops it when tb ends.
func NewBalancer(tb testing.TB, replicas ...string) *Balancer {
	tb.Helper()
	return NewStickyBalancer(tb, "", replicas...)
}

// NewStickyBalancer is NewBalancer with affinity by the header sticky
// (learnt from the response that first carries it).
func NewStickyBalancer(tb testing.TB, sticky string, replicas ...string) *Balancer {
	tb.Helper()
	b, err := StartBalancer(sticky, replicas...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(b.Close)
	return b
}

// StartBalancer is the balancer for benchmark commands, which have no
// testing.TB: sticky as in NewStickyBalancer ("" = round robin). Close
// stops it.
func StartBalancer(sticky string, replicas ...string) (*Balancer, error) {
	b := &Balancer{sticky: sticky, pinned: map[string]int{}}
	for _, r := range replicas {
		u, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("testkit: replica URL %q: %w", r, err)
		}
		b.backends = append(b.backends, u)
	}
	b.down = make([]bool, len(b.backends))
	b.served = make([]int, len(b.backends))
	// Its own transport: httptest servers closing elsewhere in the test
	// binary close http.DefaultTransport's idle connections, which would
	// cut this proxy's connections to the replicas mid-flow.
	b.tr = &http.Transport{MaxIdleConnsPerHost: 64}
	proxy := &httputil.ReverseProxy{
		Transport: b.tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := b.pick(pr.In)
			pr.SetURL(b.backends[i])
			pr.Out.Host = pr.In.Host
		},
		// A replica that hands out a session id (Mcp-Session-Id) gets
		// every later request carrying it, as a balancer that learns the
		// id from the response does.
		ModifyResponse: func(resp *http.Response) error {
			if b.sticky == "" {
				return nil
			}
			if key := resp.Header.Get(b.sticky); key != "" {
				b.pin(key, resp.Request.URL.Host)
			}
			return nil
		},
		// Stream every write at once: SSE responses must not sit in a
		// buffer.
		FlushInterval: -1,
	}
	b.srv = httptest.NewServer(proxy)
	b.URL = b.srv.URL
	return b, nil
}

// Close stops the balancer.
func (b *Balancer) Close() {
	b.srv.Close()
	b.tr.CloseIdleConnections()
}

// pick chooses the replica for r.
func (b *Balancer) pick(r *http.Request) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	key := ""
	if b.sticky != "" {
		key = r.Header.Get(b.sticky)
	}
	if key != "" {
		if i, ok := b.pinned[key]; ok && !b.down[i] {
			b.served[i]++
			return i
		}
	}
	i := b.next
	for range len(b.backends) {
		if !b.down[i] {
			break
		}
		i = (i + 1) % len(b.backends)
	}
	b.next = (i + 1) % len(b.backends)
	if key != "" {
		b.pinned[key] = i
	}
	b.served[i]++
	return i
}

func (b *Balancer) pin(key, host string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, u := range b.backends {
		if u.Host == host {
			b.pinned[key] = i
		}
	}
}

// SetDown takes replica i out of rotation (as a health check would after
// it died) or puts it back.
func (b *Balancer) SetDown(i int, down bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.down[i] = down
}

// Served reports how many requests each replica was sent.
func (b *Balancer) Served() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]int(nil), b.served...)
}
