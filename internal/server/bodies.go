package server

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// bodyReads gives every request body a read deadline and keeps the bodies
// still being read, so that a shutdown can end them at once. A client that
// sends its body one byte a second otherwise holds its connection, a
// descriptor and the shutdown for as long as the deadline allows.
type bodyReads struct {
	mu       sync.Mutex
	shutdown bool
	live     map[*trackedBody]struct{}
}

// trackedBody is a request body that leaves its bodyReads once it has been
// read to the end or failed: nothing more will be read from it.
type trackedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	reg  *bodyReads
	done atomic.Bool // read to io.EOF
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done.Store(errors.Is(err, io.EOF))
		b.reg.remove(b)
	}
	return n, err
}

// drainGrace is how long net/http may go on reading the rest of a body a
// handler left unread. A client that is still sending at full speed finishes
// its write and reads the answer (a 413 rather than a broken pipe); a slow
// one is cut off after it.
const drainGrace = time.Second

// deadline wraps every route, the refusals (401, 403, 404, 413) included:
// any request with a body gets timeout to send it. A handler that answers
// without reading the whole body has its connection's read deadline moved
// to drainGrace from now, because net/http reads what is left of a body
// before it sends the answer (up to 256 KiB), and a slow client would wait
// the whole timeout for a 401; cut short, the answer goes out and the
// connection closes.
func (br *bodyReads) deadline(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(timeout))
		tb := &trackedBody{ReadCloser: r.Body, rc: rc, reg: br}
		br.add(tb)
		r.Body = tb
		defer func() {
			br.remove(tb)
			if !tb.done.Load() {
				_ = rc.SetReadDeadline(time.Now().Add(drainGrace))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (br *bodyReads) add(b *trackedBody) {
	br.mu.Lock()
	defer br.mu.Unlock()
	if br.shutdown {
		_ = b.rc.SetReadDeadline(time.Now())
		return
	}
	if br.live == nil {
		br.live = map[*trackedBody]struct{}{}
	}
	br.live[b] = struct{}{}
}

func (br *bodyReads) remove(b *trackedBody) {
	br.mu.Lock()
	delete(br.live, b)
	br.mu.Unlock()
}

// cutAll ends every body being read (its read fails, the request gets 400
// and its connection closes) and every one that starts from now on. The
// deadlines are moved under the lock so no handler returns in between.
func (br *bodyReads) cutAll() {
	br.mu.Lock()
	defer br.mu.Unlock()
	br.shutdown = true
	for b := range br.live {
		_ = b.rc.SetReadDeadline(time.Now())
	}
	clear(br.live)
}
