package events

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

const (
	// DefaultRetention is how long events stay in the store: long enough for
	// the dashboard's "last hours" and for a stream to resume after a
	// restart, short enough that the log stays small.
	DefaultRetention = 72 * time.Hour
	// queueSize bounds the events waiting to be written. When a burst
	// outruns the writer, further events are dropped (and counted) rather than
	// slowing the controller's own writes.
	queueSize = 16384
	maxBatch  = 2048
	pruneGap  = 10 * time.Minute
	// A batch is written once no event came for quietGap, or maxDelay after
	// its first event. During a burst this defers the log's writes (which
	// share SQLite's one writer with the controller) until the burst
	// quiets, instead of interleaving them with the controller's.
	quietGap = 20 * time.Millisecond
	maxDelay = 250 * time.Millisecond
	// writeTimeout bounds one batch write, so a stuck store cannot hold
	// shutdown forever.
	writeTimeout = 10 * time.Second
)

// Recorder is a store.Store that notes every state change written through
// it as an event. The events are written to the store's event log by Run,
// in batches and off the caller's path: a state change costs the caller one
// channel send. Events queued but not yet written when the process dies are
// lost; the state itself is not (it was committed first).
type Recorder struct {
	store.Store
	hub       *Hub
	log       *slog.Logger
	q         chan core.Event
	dropped   atomic.Int64
	retention time.Duration
	now       func() time.Time
}

// Options configure a Recorder.
type Options struct {
	Logger    *slog.Logger
	Retention time.Duration // default DefaultRetention
	Now       func() time.Time
}

// NewRecorder wraps st. Nothing is written until Run runs.
func NewRecorder(st store.Store, hub *Hub, o Options) *Recorder {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Recorder{Store: st, hub: hub, log: o.Logger, q: make(chan core.Event, queueSize),
		retention: o.Retention, now: o.Now}
}

// Hub returns the hub Run wakes after each write.
func (r *Recorder) Hub() *Hub { return r.hub }

// Dropped is how many events were dropped because the queue was full.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() }

// Emit queues one event; it never blocks.
func (r *Recorder) Emit(e core.Event) {
	if e.At.IsZero() {
		e.At = r.now().UTC()
	}
	select {
	case r.q <- e:
	default:
		if r.dropped.Add(1) == 1 {
			r.log.Warn("events: queue full, dropping events (the stream will miss some)")
		}
	}
}

// Run writes queued events until ctx ends, then writes what is still queued
// and returns. It also prunes events past their retention now and then.
func (r *Recorder) Run(ctx context.Context) {
	var lastPrune time.Time
	batch := make([]*core.Event, 0, maxBatch)
	for {
		var first core.Event
		select {
		case first = <-r.q:
		case <-ctx.Done():
			r.flush(batch[:0])
			return
		}
		batch = r.gather(ctx, append(batch[:0], &first))
		// A batch taken from the queue is written even if ctx ends meanwhile
		// (select picks at random among ready cases): its events are not
		// queued any more, so abandoning the write would lose them.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
		r.write(wctx, batch)
		cancel()
		if now := r.now(); now.Sub(lastPrune) > pruneGap {
			lastPrune = now
			if n, err := r.Store.PruneEvents(ctx, now.Add(-r.retention)); err != nil {
				r.log.Warn("events: prune", "err", err)
			} else if n > 0 {
				r.log.Info("events: pruned", "events", n, "older_than", r.retention)
			}
		}
	}
}

// gather adds queued events to batch until the queue stays quiet for
// quietGap, maxDelay has passed, the batch is full or ctx ends.
func (r *Recorder) gather(ctx context.Context, batch []*core.Event) []*core.Event {
	deadline := time.NewTimer(maxDelay)
	defer deadline.Stop()
	quiet := time.NewTimer(quietGap)
	defer quiet.Stop()
	for len(batch) < maxBatch {
		select {
		case e := <-r.q:
			batch = append(batch, &e)
			quiet.Reset(quietGap)
		case <-quiet.C:
			return batch
		case <-deadline.C:
			return batch
		case <-ctx.Done():
			return batch
		}
	}
	return batch
}

// flush writes whatever is queued after ctx ended, with a short deadline of its own.
func (r *Recorder) flush(batch []*core.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	for {
		select {
		case e := <-r.q:
			batch = append(batch, &e)
			if len(batch) == maxBatch {
				r.write(ctx, batch)
				batch = batch[:0]
			}
		default:
			r.write(ctx, batch)
			return
		}
	}
}

func (r *Recorder) write(ctx context.Context, batch []*core.Event) {
	if len(batch) == 0 {
		return
	}
	if err := r.Store.AppendEvents(ctx, batch); err != nil {
		r.log.Warn("events: append", "events", len(batch), "err", err)
		return
	}
	r.hub.Broadcast()
}

// collector gathers the events of one store call; they are emitted only if
// the call commits.
type collector struct {
	mu  sync.Mutex
	evs []core.Event
}

func (c *collector) add(e core.Event) {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
}

func (r *Recorder) emitAll(c *collector, err error) {
	if err != nil {
		return
	}
	for _, e := range c.evs {
		r.Emit(e)
	}
}
