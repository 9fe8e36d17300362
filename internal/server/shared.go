package server

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/bulkguard/bulkguard/guards"
	"github.com/bulkguard/bulkguard/internal/redisstore"
)

// Stores Config.Store names.
const (
	// StoreMemory keeps plans and spent confirmations in this process:
	// right for one replica, and for stdio.
	StoreMemory = "memory"
)

// SealKeyEnv is the environment variable the seal key is read from. It is
// a secret, so it has no flag (a command line is visible to every user of
// the machine).
const SealKeyEnv = "BULKGUARD_SEAL_KEY"

// ReplicaPlaceholder in an audit log path is replaced by the replica id, so
// replicas sharing a volume each write their own file.
const ReplicaPlaceholder = "{replica}"

// ParseSealKey reads the key that seals elicitation state: 32 bytes, as
// base64 (standard or URL alphabet, padded or not; `openssl rand -base64
// 32`) or as 64 hex digits (`openssl rand -hex 32`). Every replica behind
// one balancer must have the same key, or a confirmation started on one
// cannot be opened on another.
func ParseSealKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New(SealKeyEnv + " is empty")
	}
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != 32 {
				return nil, fmt.Errorf("%s decodes to %d bytes; it must be 32 (openssl rand -base64 32)", SealKeyEnv, len(b))
			}
			return b, nil
		}
	}
	// The value is a secret: the error never repeats it.
	return nil, errors.New(SealKeyEnv + " is neither base64 nor 64 hex digits (make one with: openssl rand -base64 32)")
}

var replicaIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckReplicaID accepts ids that are safe in a file name and a log line.
func CheckReplicaID(id string) error {
	if !replicaIDRE.MatchString(id) {
		return fmt.Errorf("replica id %q must be 1–63 letters, digits, '.', '_' or '-', starting with a letter or digit", id)
	}
	return nil
}

// DefaultReplicaID is the host name (a container's is its id or service
// name), or "replica" when there is none usable.
func DefaultReplicaID() string {
	h, err := os.Hostname()
	if err != nil || CheckReplicaID(h) != nil {
		return "replica"
	}
	return h
}

// AuditPathFor puts the replica id into an audit log path.
func AuditPathFor(path, replica string) string {
	return strings.ReplaceAll(path, ReplicaPlaceholder, replica)
}

// SharedStoreURL reports whether store names a shared store (redis:// or
// rediss://) rather than memory.
func SharedStoreURL(store string) bool {
	return strings.HasPrefix(store, "redis://") || strings.HasPrefix(store, "rediss://")
}

// CheckStore accepts "", "memory", redis:// and rediss:// URLs.
func CheckStore(store string) error {
	if store == "" || store == StoreMemory || SharedStoreURL(store) {
		return nil
	}
	return errors.New(`the store must be "memory" or a redis:// or rediss:// URL`)
}

// openSharedStore connects to the Redis of store; Redis must answer now,
// so a wrong URL or password fails at startup rather than at the first
// delete.
func openSharedStore(ctx context.Context, store string) (*redisstore.Store, error) {
	st, err := redisstore.Open(ctx, store, redisstore.Options{})
	if err != nil {
		if r, ok := guards.AsRefusal(err); ok {
			return nil, errors.New(strings.TrimSuffix(r.Problem, ".") + " at startup (check --store / BULKGUARD_STORE and that Redis runs)")
		}
		return nil, err
	}
	return st, nil
}

// RedactStoreURL is store fit for a log line: any password replaced.
func RedactStoreURL(store string) string {
	if !SharedStoreURL(store) {
		return store
	}
	u, err := url.Parse(store)
	if err != nil {
		return "redis://(unparsable)"
	}
	return u.Redacted()
}
