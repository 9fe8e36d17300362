package guards

import "time"

// timedMap is a map whose entries expire ttl after they were put and that
// holds at most max of them, dropping the oldest first. Maps keyed by a
// principal or a job id grow with every new caller or job otherwise (with
// --allow-client-keys, every key a client sends is a new principal). It is
// not safe for concurrent use: its owner's mutex guards it.
type timedMap[V any] struct {
	ttl time.Duration
	max int
	m   map[string]timedEntry[V]
}

type timedEntry[V any] struct {
	v  V
	at time.Time
}

func newTimedMap[V any](ttl time.Duration, max int) *timedMap[V] {
	return &timedMap[V]{ttl: ttl, max: max, m: map[string]timedEntry[V]{}}
}

// put sets k, first sweeping what expired and, at the cap, the oldest.
func (t *timedMap[V]) put(k string, v V, now time.Time) {
	if _, ok := t.m[k]; !ok && len(t.m) >= t.max {
		var oldest string
		var oldestAt time.Time
		for key, e := range t.m {
			if now.Sub(e.at) >= t.ttl {
				delete(t.m, key)
				continue
			}
			if oldest == "" || e.at.Before(oldestAt) {
				oldest, oldestAt = key, e.at
			}
		}
		if len(t.m) >= t.max {
			delete(t.m, oldest)
		}
	}
	t.m[k] = timedEntry[V]{v: v, at: now}
}

// get returns k's value while it has not expired.
func (t *timedMap[V]) get(k string, now time.Time) (V, bool) {
	e, ok := t.m[k]
	if !ok || now.Sub(e.at) >= t.ttl {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Bounds of the guard's own maps.
const (
	// maxTracked caps each map keyed by a job or a principal.
	maxTracked = 10000
	// knownJobsTTL outlasts any plan (PlanTTL is at most 24 h on the
	// command line), so a job is remembered as long as a reconciliation
	// could mistake it for a lost create.
	knownJobsTTL = 25 * time.Hour
	// maxNameEntries caps the name cache (principal × kind of id).
	maxNameEntries = 1000
)
