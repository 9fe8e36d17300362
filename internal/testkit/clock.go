package testkit

import (
	"sync"
	"time"
)

// Clock is real time plus an offset a test moves forward (to expire plans
// and confirmations) while everything else stays on real time. The zero
// value is real time.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is real time plus the offset.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// ManualClock stands still at the time it was set to and moves only when a
// test advances it.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

// NewManualClock is a clock standing at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{t: start} }

// Now is the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
