package guards

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestTimedMap: entries expire after the TTL, the map never holds more than
// its cap (the oldest goes first), and putting a key it holds evicts
// nothing.
func TestTimedMap(t *testing.T) {
	now := time.Now()
	m := newTimedMap[int](time.Minute, 3)
	for i := range 3 {
		m.put(fmt.Sprint(i), i, now.Add(time.Duration(i)*time.Second))
	}
	m.put("1", 10, now.Add(3*time.Second)) // held: nothing evicted
	if len(m.m) != 3 {
		t.Fatalf("%d entries after re-putting a held key", len(m.m))
	}
	m.put("new", 4, now.Add(4*time.Second))
	if len(m.m) != 3 {
		t.Fatalf("%d entries, want the cap of 3", len(m.m))
	}
	if _, ok := m.get("0", now.Add(4*time.Second)); ok {
		t.Error("the oldest entry survived a put at the cap")
	}
	if v, ok := m.get("1", now.Add(4*time.Second)); !ok || v != 10 {
		t.Errorf("re-put key: %d %v", v, ok)
	}
	if _, ok := m.get("2", now.Add(2*time.Second+time.Minute)); ok {
		t.Error("an entry older than the TTL was returned")
	}
	// At the cap, expired entries are swept before anything live is evicted.
	later := now.Add(3*time.Second + time.Minute)
	m.put("a", 1, later)
	m.put("b", 2, later)
	if _, ok := m.get("new", later); !ok {
		t.Error("a live entry was evicted while expired ones were held")
	}
	if len(m.m) != 3 {
		t.Errorf("%d entries, want 3", len(m.m))
	}
}

// TestGuardMapsBounded: the guard's maps keyed by job or principal are
// timed and capped, so a stream of new principals or jobs cannot grow them
// without end.
func TestGuardMapsBounded(t *testing.T) {
	clock := newTestClock()
	g, _ := newTestGuard(t, Policy{}, clock)
	for i := range maxTracked + 50 {
		g.knownJobs.put(fmt.Sprintf("bulk_%d", i), struct{}{}, clock.Now())
		g.lastCreate.put(fmt.Sprintf("principal_%d", i), struct{}{}, clock.Now())
	}
	if len(g.knownJobs.m) > maxTracked || len(g.lastCreate.m) > maxTracked {
		t.Errorf("known jobs %d, last creates %d; cap %d", len(g.knownJobs.m), len(g.lastCreate.m), maxTracked)
	}
	if !g.recentlyCreated("principal_10049") {
		t.Error("the newest create is not remembered")
	}
	clock.Advance(indexLagWindow)
	if g.recentlyCreated("principal_10049") {
		t.Error("a create older than the index-lag window still counts")
	}
}

// TestNameCacheBounded: the names a lookup caches are kept for namesTTL and
// at most maxNameEntries lookups (principal × kind).
func TestNameCacheBounded(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	if _, err := h.g.Lookup(context.Background(), h.cl, LookupUsers); err != nil {
		t.Fatal(err)
	}
	c := h.g.names.entries
	if c == nil || c.ttl != namesTTL || c.max != maxNameEntries || len(c.m) != 1 {
		t.Fatalf("name cache %+v", c)
	}
	for i := range maxNameEntries + 10 {
		c.put(fmt.Sprintf("p%d|users", i), nil, h.clock.Now())
	}
	if len(c.m) > maxNameEntries {
		t.Errorf("%d cached lookups, cap %d", len(c.m), maxNameEntries)
	}
}
