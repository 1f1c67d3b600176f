package httplimit

import (
	"container/list"
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Conns caps the inbound connections a server holds open, so a flood of
// slow clients cannot take every file descriptor (the manager's own calls to
// forges, providers and its store need some too).
//
// At the cap a new connection is not refused: the connection that has been
// "cheap to drop" the longest is closed for it instead. Cheap to drop are
// connections that have not yet sent a complete request header, idle
// keep-alives, and those still sending an unauthenticated body. So a flood of
// slow connections pushes out its own oldest members, while a client that
// sends a whole request at once (/healthz, a forge delivery, a machine) gets
// in and is served. Install with Listener, and Server.ConnState and
// Server.ConnContext set to the methods of the same name.
type Conns struct {
	max     int
	mu      sync.Mutex
	open    map[net.Conn]*connEntry
	cheap   *list.List // of *connEntry, longest cheap first
	shed    atomic.Int64
	refused atomic.Int64
}

type connEntry struct {
	c       net.Conn
	state   http.ConnState
	reading bool          // an unauthenticated body is being read
	elem    *list.Element // in cheap, or nil
}

// NewConns caps open connections at max.
func NewConns(max int) *Conns {
	return &Conns{max: max, open: map[net.Conn]*connEntry{}, cheap: list.New()}
}

// Stats reports open connections, connections closed to make room, and new
// connections refused because every open one was busy.
func (l *Conns) Stats() (open int, shed, refused int64) {
	l.mu.Lock()
	open = len(l.open)
	l.mu.Unlock()
	return open, l.shed.Load(), l.refused.Load()
}

// Listener wraps inner so that each accepted connection is counted.
func (l *Conns) Listener(inner net.Listener) net.Listener {
	return &connsListener{Listener: inner, l: l}
}

type connsListener struct {
	net.Listener
	l *Conns
}

func (cl *connsListener) Accept() (net.Conn, error) {
	for {
		c, err := cl.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if cl.l.admit(c) {
			return c, nil
		}
		c.Close()
	}
}

func (l *Conns) admit(c net.Conn) bool {
	var victims []net.Conn
	l.mu.Lock()
	for len(l.open) >= l.max && l.cheap.Len() > 0 {
		e := l.cheap.Remove(l.cheap.Front()).(*connEntry)
		e.elem = nil
		delete(l.open, e.c)
		victims = append(victims, e.c)
	}
	ok := len(l.open) < l.max
	if ok {
		e := &connEntry{c: c, state: http.StateNew}
		e.elem = l.cheap.PushBack(e)
		l.open[c] = e
	}
	l.mu.Unlock()
	for _, v := range victims {
		v.Close()
	}
	l.shed.Add(int64(len(victims)))
	if !ok {
		l.refused.Add(1)
	}
	return ok
}

// ConnState tracks each connection's state (for http.Server.ConnState).
func (l *Conns) ConnState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.open[c]
	if e == nil {
		return // shed already
	}
	if s == http.StateClosed || s == http.StateHijacked {
		if e.elem != nil {
			l.cheap.Remove(e.elem)
		}
		delete(l.open, c)
		return
	}
	e.state = s
	l.place(e)
}

// place keeps e in the cheap list exactly while it is cheap to drop; a
// connection that becomes cheap goes to the back (newest).
func (l *Conns) place(e *connEntry) {
	cheap := e.state == http.StateNew || e.state == http.StateIdle || e.reading
	switch {
	case cheap && e.elem == nil:
		e.elem = l.cheap.PushBack(e)
	case !cheap && e.elem != nil:
		l.cheap.Remove(e.elem)
		e.elem = nil
	}
}

type connKey struct{}

type connRef struct {
	l *Conns
	c net.Conn
}

// ConnContext lets Preauth mark the connection while it reads a body (for
// http.Server.ConnContext).
func (l *Conns) ConnContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, connRef{l, c})
}

// markReading says whether the request's connection is reading an
// unauthenticated body.
func markReading(ctx context.Context, reading bool) {
	ref, ok := ctx.Value(connKey{}).(connRef)
	if !ok {
		return
	}
	ref.l.mu.Lock()
	defer ref.l.mu.Unlock()
	if e := ref.l.open[ref.c]; e != nil {
		e.reading = reading
		ref.l.place(e)
	}
}
