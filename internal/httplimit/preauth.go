// Package httplimit bounds what the manager's HTTP server spends on clients
// before they have proved who they are: memory for request bodies, handlers
// in flight, open connections and failed authentication attempts.
//
// Webhooks and machine callbacks can only be authenticated after their body
// has been read (the HMAC covers the body), so anyone who can reach the port
// can make the manager read and hold bodies. Preauth caps the bytes held for
// all such bodies together, the time a body may take to arrive, and the
// number of handlers verifying at once; the excess is answered at once with
// 503 and Retry-After instead of queueing.
package httplimit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

// Budget is shared by every unauthenticated endpoint: bytes of bodies held,
// and handlers running after their body has arrived.
type Budget struct {
	mu       sync.Mutex
	bytes    int64
	maxBytes int64
	reqs     int
	maxReqs  int
}

// NewBudget bounds body bytes held at once and handlers running at once.
func NewBudget(maxBytes int64, maxRequests int) *Budget {
	return &Budget{maxBytes: maxBytes, maxReqs: maxRequests}
}

func (b *Budget) take(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bytes+n > b.maxBytes {
		return false
	}
	b.bytes += n
	return true
}

func (b *Budget) give(n int64) {
	b.mu.Lock()
	b.bytes -= n
	b.mu.Unlock()
}

func (b *Budget) enter() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reqs >= b.maxReqs {
		return false
	}
	b.reqs++
	return true
}

func (b *Budget) leave() {
	b.mu.Lock()
	b.reqs--
	b.mu.Unlock()
}

// InUse reports the bytes and handlers currently held.
func (b *Budget) InUse() (bytes int64, requests int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bytes, b.reqs
}

// Preauth wraps an unauthenticated endpoint. The body is read here, within
// the budget and the deadline, and handed to the next handler buffered (see
// Body).
type Preauth struct {
	Budget  *Budget
	MaxBody int64
	// Small, if set, is the budget for bodies of at most SmallBody bytes,
	// so a flood of large bodies cannot crowd out ordinary ones.
	Small     *Budget
	SmallBody int64
	// ReadTimeout bounds reading the whole body; a slower sender is cut off.
	ReadTimeout time.Duration
	// RetryAfter is what a client turned away for lack of budget is told.
	RetryAfter time.Duration
	// Rejected, if set, counts requests turned away, by reason.
	Rejected func(reason string)
}

type bodyKey struct{}

// Body returns the request body Preauth read, if it did.
func Body(r *http.Request) ([]byte, bool) {
	b, ok := r.Context().Value(bodyKey{}).([]byte)
	return b, ok
}

// firstChunk is the most memory given to a body before its bytes arrive, so
// a connection that announces a large body and then stalls holds little.
const firstChunk = 16 << 10

// Wrap returns next behind the limits.
func (p *Preauth) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := r.ContentLength
		switch {
		case n < 0:
			// Forges and machines always send a length; without one the
			// memory a body needs is unknown until it has been read.
			p.refuse(w, http.StatusLengthRequired, "length", "a Content-Length is required")
			return
		case n > p.MaxBody:
			p.refuse(w, http.StatusRequestEntityTooLarge, "too_large",
				"body of "+strconv.FormatInt(n, 10)+" bytes exceeds the limit of "+strconv.FormatInt(p.MaxBody, 10))
			return
		}
		if p.ReadTimeout > 0 && n > 0 {
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(p.ReadTimeout))
			defer rc.SetReadDeadline(time.Time{}) //nolint:errcheck
		}
		budget := p.Budget
		if p.Small != nil && n <= p.SmallBody {
			budget = p.Small
		}
		markReading(r.Context(), true)
		body, held, err := read(budget, r.Body, n)
		markReading(r.Context(), false)
		defer budget.give(held)
		switch {
		case errors.Is(err, errBudget):
			p.busy(w, "memory")
			return
		case isTimeout(err):
			p.refuse(w, http.StatusRequestTimeout, "slow", "the body did not arrive within "+p.ReadTimeout.String())
			return
		case err != nil:
			p.refuse(w, http.StatusBadRequest, "read", "could not read the body")
			return
		}
		if !budget.enter() {
			p.busy(w, "requests")
			return
		}
		defer budget.leave()
		r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

var errBudget = errors.New("unauthenticated body budget exhausted")

// read reads exactly n bytes, charging the budget for the buffer before it
// grows, so what is charged is what is allocated; it returns the bytes charged.
func read(budget *Budget, body io.Reader, n int64) ([]byte, int64, error) {
	if n == 0 {
		return nil, 0, nil
	}
	size := min(n, firstChunk)
	if !budget.take(size) {
		return nil, 0, errBudget
	}
	held := size
	buf := make([]byte, 0, size)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grow := min(n, 2*int64(cap(buf)))
			if !budget.take(grow) {
				return nil, held, errBudget
			}
			nb := make([]byte, len(buf), grow)
			copy(nb, buf)
			budget.give(int64(cap(buf)))
			held = grow
			buf = nb
		}
		m, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF && int64(len(buf)) < n {
			return nil, held, io.ErrUnexpectedEOF
		}
		if err != nil && err != io.EOF {
			return nil, held, err
		}
	}
	return buf, held, nil
}

func (p *Preauth) busy(w http.ResponseWriter, reason string) {
	secs := max(1, int(p.RetryAfter.Round(time.Second)/time.Second))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	p.refuse(w, http.StatusServiceUnavailable, "busy_"+reason, "too many unauthenticated requests in flight; retry later")
}

func (p *Preauth) refuse(w http.ResponseWriter, code int, reason, msg string) {
	if p.Rejected != nil {
		p.Rejected(reason)
	}
	// The unread rest of the body is not worth keeping the connection for.
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, `{"result":"error","reason":`+strconv.Quote(msg)+"}\n")
}
