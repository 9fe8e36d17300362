package redisstore_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/bulkguard/bulkguard/internal/redisstore"
	"github.com/bulkguard/bulkguard/internal/testkit"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLoggerForwards: go-redis's own complaints (a pool that cannot dial)
// reach the logger SetLogger was given, as component=redis warnings.
func TestLoggerForwards(t *testing.T) {
	var buf syncBuffer
	redisstore.SetLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { redisstore.SetLogger(nil) })
	r := testkit.StartRedis(t)
	s := open(t, r, redisstore.Options{})
	r.Stop()
	if err := s.Ping(context.Background()); err == nil {
		t.Fatal("Ping succeeded with Redis stopped")
	}
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "component=redis") || !strings.Contains(out, "dial") {
		t.Fatalf("go-redis's messages did not reach the logger:\n%s", out)
	}
}
