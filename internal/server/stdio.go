package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/bulkguard/bulkguard/tools"
)

// idPrefixBytes is how much of an over-long message is kept to find its id.
const idPrefixBytes = 4 << 10

// lineLimiter is stdin as mcp-go's stdio server reads it: whole lines, each
// at most max bytes. mcp-go reads a line of any length into memory (one
// 100 MB line took the process from 29 to 619 MiB), so a longer line is
// skipped here as it streams past, never held, and tooLong answers it.
type lineLimiter struct {
	r       *bufio.Reader
	max     int
	tooLong func(prefix []byte, size int64)

	line []byte // the current line, up to max bytes
	buf  []byte // what Read has still to hand out of line
	err  error  // the underlying reader's error, once it came
}

func newLineLimiter(r io.Reader, max int, tooLong func(prefix []byte, size int64)) *lineLimiter {
	return &lineLimiter{r: bufio.NewReaderSize(r, 64<<10), max: max, tooLong: tooLong}
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	for len(l.buf) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		l.next()
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

// next reads one line into buf, or skips one over-long line.
func (l *lineLimiter) next() {
	l.line = l.line[:0]
	over := false
	var size int64
	for {
		chunk, err := l.r.ReadSlice('\n')
		size += int64(len(chunk))
		switch {
		case over:
		case len(l.line)+len(chunk) > l.max:
			over = true
			l.line = append(l.line, chunk[:min(len(chunk), idPrefixBytes)]...)
			l.line = l.line[:min(len(l.line), idPrefixBytes)]
		default:
			l.line = append(l.line, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			l.err = err
		}
		if over {
			l.tooLong(l.line, size)
			return
		}
		l.buf = tools.MarkUnreadableArguments(l.line)
		if len(l.buf) > 0 && l.buf[len(l.buf)-1] != '\n' && bytes.HasSuffix(l.line, []byte("\n")) {
			l.buf = append(l.buf, '\n') // a rewritten message is still one line
		}
		return
	}
}

// requestID finds the top-level "id" of a JSON-RPC message from its first
// bytes, or returns null. Only the top level counts: an "id" inside params
// belongs to something else.
func requestID(prefix []byte) json.RawMessage {
	dec := json.NewDecoder(bytes.NewReader(prefix))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return json.RawMessage("null")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			break
		}
		if key == "id" {
			var id json.RawMessage
			if dec.Decode(&id) == nil && len(id) > 0 && (id[0] == '"' || id[0] == '-' || (id[0] >= '0' && id[0] <= '9')) {
				return id
			}
			break
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			break
		}
	}
	return json.RawMessage("null")
}

// lockedWriter serialises whole writes, so an answer written here never
// interleaves with one of mcp-go's (each of which is a single Write).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// tooLargeResponse is the JSON-RPC error answering a message over max
// bytes: Invalid Request, since the message was never read.
func tooLargeResponse(id json.RawMessage, size int64, max ByteSize) []byte {
	type rpcError struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	b, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   rpcError        `json:"error"`
	}{"2.0", id, rpcError{Code: -32600, Message: fmt.Sprintf(
		"message too large: %d bytes, over the limit of %s per message (--max-body-bytes); it was not read and nothing was done. Send a smaller message (a shorter query).",
		size, max.String())}})
	return append(b, '\n')
}
