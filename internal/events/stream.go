package events

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddock-ci/paddock/internal/store"
)

// Stream defaults.
const (
	DefaultMaxStreams = 64
	DefaultHeartbeat  = 15 * time.Second
	// DefaultPoll is how often an idle stream re-reads the log anyway, only
	// to pick up events another process (a second replica) wrote; events of
	// this process wake it at once through the Hub.
	DefaultPoll = 5 * time.Second
	pageSize    = 500
	writeGrace  = 30 * time.Second
	// retryMS tells browsers how soon to reconnect after the stream drops
	// (a manager restart): soon, so the dashboard catches up quickly.
	retryMS = 2000
)

// Stream serves the event log as Server-Sent Events. Authentication is the
// caller's job (the API mounts it behind the admin or viewer token).
//
// A client resumes with the Last-Event-ID header (browsers send it by
// themselves on reconnect) or ?after=ID; without either it gets only events
// from now on. ?after=0 replays the whole retained log.
type Stream struct {
	Store      store.Store
	Hub        *Hub
	MaxStreams int
	Heartbeat  time.Duration
	Poll       time.Duration
	Logger     *slog.Logger

	active atomic.Int64
	once   sync.Once
	done   chan struct{}
}

func (s *Stream) init() {
	s.once.Do(func() {
		s.done = make(chan struct{})
		if s.MaxStreams <= 0 {
			s.MaxStreams = DefaultMaxStreams
		}
		if s.Heartbeat <= 0 {
			s.Heartbeat = DefaultHeartbeat
		}
		if s.Poll <= 0 {
			s.Poll = DefaultPoll
		}
		if s.Logger == nil {
			s.Logger = slog.New(slog.DiscardHandler)
		}
		if s.Hub == nil {
			s.Hub = NewHub()
		}
	})
}

// Close ends every open stream (at server shutdown, so it need not wait for
// them) and refuses new ones.
func (s *Stream) Close() {
	s.init()
	select {
	case <-s.done:
	default:
		close(s.done)
	}
}

// Active is the number of open streams.
func (s *Stream) Active() int { return int(s.active.Load()) }

// startID reads where the client wants to resume.
func startID(r *http.Request) (id int64, given bool, err error) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		v = r.URL.Query().Get("after")
	}
	if v == "" {
		return 0, false, nil
	}
	id, err = strconv.ParseInt(v, 10, 64)
	if err != nil || id < 0 {
		return 0, false, fmt.Errorf("Last-Event-ID/after %q is not an event id (a non-negative integer); omit it to get new events only", v)
	}
	return id, true, nil
}

func (s *Stream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.init()
	after, given, err := startID(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case <-s.done:
		http.Error(w, "server shutting down; reconnect shortly", http.StatusServiceUnavailable)
		return
	default:
	}
	if n := s.active.Add(1); n > int64(s.MaxStreams) {
		s.active.Add(-1)
		w.Header().Set("Retry-After", "10")
		http.Error(w, fmt.Sprintf("too many event streams open (limit %d); close one or retry later", s.MaxStreams),
			http.StatusServiceUnavailable)
		return
	}
	defer s.active.Add(-1)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if !given {
		if after, err = s.Store.LastEventID(ctx); err != nil {
			http.Error(w, "cannot read the event log; retry shortly", http.StatusServiceUnavailable)
			s.Logger.Warn("events: last id", "err", err)
			return
		}
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(writeGrace))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The id line without data sets the client's resume point at once (the
	// SSE rules update it even for an empty event, which is not dispatched),
	// so a client that reconnects before its first event still resumes here.
	if !send([]byte(fmt.Sprintf("retry: %d\nid: %d\n\n", retryMS, after))) {
		return
	}
	heartbeat := time.NewTicker(s.Heartbeat)
	defer heartbeat.Stop()
	poll := time.NewTicker(s.Poll)
	defer poll.Stop()
	var buf []byte
	for {
		changed := s.Hub.Changed()
		for {
			evs, err := s.Store.ListEventsAfter(ctx, after, pageSize)
			if err != nil {
				if ctx.Err() == nil {
					s.Logger.Warn("events: read log", "err", err)
				}
				return
			}
			buf = buf[:0]
			for _, e := range evs {
				data, _ := json.Marshal(e)
				buf = fmt.Appendf(buf, "id: %d\nevent: %s\ndata: %s\n\n", e.ID, e.Kind, data)
				after = e.ID
			}
			if len(buf) > 0 && !send(buf) {
				return
			}
			if len(evs) < pageSize {
				break
			}
		}
		select {
		case <-changed:
		case <-poll.C:
		case <-heartbeat.C:
			if !send([]byte(": ping\n\n")) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
