package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis has one process-wide logger (redis.SetLogger) and prints pool
// errors ("failed to dial after 5 attempts") with the standard log package
// by default. They go to the server's logger instead, as warnings with
// component=redis, so they share its format and level. The logger can be
// replaced at any time; installing the forwarder happens once.
var (
	logTo       atomic.Pointer[slog.Logger]
	installOnce sync.Once
)

// SetLogger sends go-redis's own messages to l (nil: drop them).
func SetLogger(l *slog.Logger) {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	logTo.Store(l.With("component", "redis"))
	installOnce.Do(func() { redis.SetLogger(forwarder{}) })
}

type forwarder struct{}

func (forwarder) Printf(ctx context.Context, format string, v ...any) {
	if l := logTo.Load(); l != nil {
		l.WarnContext(ctx, fmt.Sprintf(format, v...))
	}
}
