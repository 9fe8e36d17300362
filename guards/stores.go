package guards

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"
)

// NonceStore remembers which sealed elicitation states were opened, so each
// opens once. One process keeps them in memory (MemoryNonces); replicas
// behind a load balancer share one store, or a token opened on one replica
// could be replayed on another.
type NonceStore interface {
	// Spend records nonce of principal as used until at least until and
	// reports whether it was fresh. Of any number of concurrent Spends of
	// one nonce exactly one reports true. An error means the store could
	// not tell: the guard then refuses, as if the nonce were spent.
	Spend(ctx context.Context, principal, nonce string, until time.Time) (bool, error)
}

// CodeStoreUnavailable: the store shared by replicas (plans, spent nonces)
// could not be reached or did not answer in time. Nothing was sent to Close.
const CodeStoreUnavailable = "store_unavailable"

// StoreUnavailable is the refusal a shared store returns when it cannot
// answer. what names the operation ("save the plan"); err is the store's
// own error, which names no credential. Stores return it (wrapped or not)
// so that every caller of a store turns it into the same clear refusal.
func StoreUnavailable(what string, err error) *Refusal {
	detail := ""
	if err != nil {
		detail = " (" + strings.TrimRight(err.Error(), ". ") + ")"
	}
	return &Refusal{Code: CodeStoreUnavailable,
		Problem: "bulkguard's shared store could not " + what + detail,
		Next:    "This is a server-side outage, not a problem with the request: wait a little and call the tool again. If it persists, ask the operator to check the store (--store / BULKGUARD_STORE)."}
}

// MemoryNonces is the in-process NonceStore.
type MemoryNonces struct {
	now func() time.Time

	mu   sync.Mutex
	used map[string]time.Time // principal "\x00" nonce → forget after
}

// NewMemoryNonces returns an empty store whose sweeping uses now (nil →
// time.Now).
func NewMemoryNonces(now func() time.Time) *MemoryNonces {
	if now == nil {
		now = time.Now
	}
	return &MemoryNonces{now: now, used: map[string]time.Time{}}
}

// Spend checks and records under one lock, so of two concurrent opens of
// one token exactly one succeeds.
func (m *MemoryNonces) Spend(_ context.Context, principal, nonce string, until time.Time) (bool, error) {
	if nonce == "" {
		return false, errors.New("guards: empty nonce")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	for n, exp := range m.used {
		if now.After(exp) {
			delete(m.used, n)
		}
	}
	k := principal + "\x00" + nonce
	if _, used := m.used[k]; used {
		return false, nil
	}
	// Kept a little past expiry so a clock step back cannot revive it.
	m.used[k] = until.Add(NonceGrace)
	return true, nil
}

// NonceGrace is how long past its state's expiry a spent nonce is still
// remembered, so a clock step back cannot revive it.
const NonceGrace = time.Minute
