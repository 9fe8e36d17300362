package server

import (
	"container/list"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sync"

	mcpserver "github.com/mark3labs/mcp-go/server"
)

// sessionLimiter is the streamable-HTTP transport's session id manager. It
// keeps the live sessions in least-recently-used order and holds at most max
// of them: an initialization past the cap pushes the least recently used
// session out, and end frees what mcp-go holds for it. mcp-go keeps every
// initialized session until a DELETE, which many clients never send (20,000
// initializations held 264 MiB); idle sessions are swept by mcp-go's own
// WithSessionIdleTTL, which ends them here through Terminate.
//
// A session that is gone gets 404 on its next request, which tells a client
// to initialize again (MCP transports, "Session Management").
//
// Replicas sharing a store (--store redis://…) may see a session another
// replica initialized: with adopt set, a well-formed id this process does
// not know is taken in as live (counted against the cap) instead of
// refused, as mcp-go's default manager accepts any well-formed id.
type sessionLimiter struct {
	max   int
	adopt bool
	end   func(id string) // frees mcp-go's state of a session pushed out

	mu    sync.Mutex
	order *list.List // of string ids, most recently used first
	ids   map[string]*list.Element
}

func newSessionLimiter(max int, adopt bool, end func(id string)) *sessionLimiter {
	return &sessionLimiter{max: max, adopt: adopt, end: end, order: list.New(), ids: map[string]*list.Element{}}
}

// errSessionGone is what mcp-go turns into 404 "Invalid session ID".
var errSessionGone = errors.New("session not found: it ended, idled out or was pushed out by newer sessions; initialize again")

// Generate makes the id of a new session (mcp-go's format: "mcp-session-"
// and a random UUID) and makes room for it.
func (l *sessionLimiter) Generate() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	id := fmt.Sprintf("mcp-session-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
	l.mu.Lock()
	l.addLocked(id)
	l.mu.Unlock()
	return id
}

// addLocked makes id the most recently used session and pushes out the
// least recently used ones past the cap.
func (l *sessionLimiter) addLocked(id string) {
	l.ids[id] = l.order.PushFront(id)
	for l.order.Len() > l.max {
		old := l.order.Remove(l.order.Back()).(string)
		delete(l.ids, old)
		// Not inline: this runs inside a request mcp-go is handling.
		go l.end(old)
	}
}

// sessionIDRE is the form of the ids Generate makes (and mcp-go's).
var sessionIDRE = regexp.MustCompile(`^mcp-session-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Validate accepts live sessions (and, with adopt, any well-formed id),
// and counts the use.
func (l *sessionLimiter) Validate(id string) (isTerminated bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.ids[id]
	switch {
	case ok:
		l.order.MoveToFront(e)
	case l.adopt && sessionIDRE.MatchString(id):
		l.addLocked(id)
	default:
		return false, errSessionGone
	}
	return false, nil
}

// Terminate forgets a session: a client's DELETE, mcp-go's idle sweep, a
// shutdown, or end after the session was pushed out.
func (l *sessionLimiter) Terminate(id string) (isNotAllowed bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.ids[id]; ok {
		l.order.Remove(e)
		delete(l.ids, id)
	}
	return false, nil
}

// Len is the number of live sessions.
func (l *sessionLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ids)
}

// endSession frees mcp-go's state of session id the one way its API offers:
// a DELETE of the session, sent to the handler in process.
func endSession(h http.Handler, path, id string) {
	r, err := http.NewRequestWithContext(context.Background(), http.MethodDelete, path, http.NoBody)
	if err != nil {
		return
	}
	r.Header.Set(mcpserver.HeaderKeySessionID, id)
	h.ServeHTTP(discardResponse{}, r)
}

// discardResponse is a ResponseWriter that keeps nothing.
type discardResponse struct{}

func (discardResponse) Header() http.Header         { return http.Header{} }
func (discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (discardResponse) WriteHeader(int)             {}
