// Package leader elects, among the `paddock serve` replicas sharing one
// PostgreSQL database, the one that runs the controller loop, reconcile,
// pollers and scale-set listeners.
//
// The lease is a row (paddock_leader) rather than an advisory lock: an
// advisory lock lives as long as the holder's session, and when the network
// between the leader and the database breaks, the server frees it only once
// it notices the dead connection (TCP keepalive: minutes), at a moment the
// old leader cannot know. A lease row has a deadline by the database's clock
// that both sides can reason about: a follower takes over only after it, and
// the leader stops acting before it by its own clock (counted from when it
// sent its last successful renewal, which is before the database stamped it).
// Each takeover increments the row's epoch, the fencing token that store
// writes check in their own transaction (see package fence).
package leader

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/paddock-ci/paddock/internal/leader/fence"
)

// Backend keeps the lease. Every method is one atomic step at the database.
type Backend interface {
	// TryAcquire takes the lease for holder if nobody holds it or it has
	// expired, starting a new epoch. If it is held, ok is false and
	// remaining is how long it still runs by the database's clock.
	TryAcquire(ctx context.Context, holder string, lease time.Duration) (epoch int64, ok bool, remaining time.Duration, err error)
	// Renew extends holder's lease of epoch; false if it is no longer held.
	Renew(ctx context.Context, holder string, epoch int64, lease time.Duration) (bool, error)
	// Release ends holder's lease of epoch now, so a follower can take over.
	Release(ctx context.Context, holder string, epoch int64) error
}

// Role of a replica.
type Role string

const (
	Follower Role = "follower"
	Leader   Role = "leader"
)

// Options configure an Elector.
type Options struct {
	Backend Backend
	// Holder names this replica in the lease row (unique per process).
	Holder string
	Lease  time.Duration
	Logger *slog.Logger
	// Lead runs for as long as this replica leads. Its context carries the
	// term (fence.From) and ends when the term does; Lead must then return
	// promptly. It may be called again for a later term.
	Lead func(ctx context.Context, term *fence.Term)
	// OnRole, if set, is told every change of role (heartbeats, metrics).
	OnRole func(role Role, epoch int64)
}

// Elector runs the election for one replica.
type Elector struct {
	o     Options
	t     timing
	log   *slog.Logger
	poke  chan struct{}
	epoch atomic.Int64 // current term's epoch while leading, else 0
	last  atomic.Int64 // epoch of the latest term this replica held
}

// New checks the lease and returns an Elector.
func New(o Options) (*Elector, error) {
	t, err := newTiming(o.Lease)
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Elector{o: o, t: t, log: o.Logger, poke: make(chan struct{}, 1)}, nil
}

// Status is this replica's role and, while leading, its epoch.
func (e *Elector) Status() (Role, int64) {
	if ep := e.epoch.Load(); ep != 0 {
		return Leader, ep
	}
	return Follower, e.last.Load()
}

// Leading says whether this replica leads now.
func (e *Elector) Leading() bool { return e.epoch.Load() != 0 }

// Poke makes a follower try to take over now (the leader said it released
// the lease).
func (e *Elector) Poke() {
	select {
	case e.poke <- struct{}{}:
	default:
	}
}

// Run takes part in the election until ctx ends; a term held then is
// released, so another replica takes over at once.
func (e *Elector) Run(ctx context.Context) {
	failing := false
	for {
		sent := time.Now()
		actx, cancel := context.WithTimeout(ctx, e.t.renewEvery)
		epoch, ok, remaining, err := e.o.Backend.TryAcquire(actx, e.o.Holder, e.t.lease)
		cancel()
		if ctx.Err() != nil {
			return
		}
		wait := e.t.followerWait(remaining)
		switch {
		case err != nil:
			if !failing {
				e.log.Warn("leader election: cannot reach the database; will retry", "err", err)
			}
			failing, wait = true, e.t.retryEvery
		case ok:
			failing = false
			e.lead(ctx, epoch, sent)
			if ctx.Err() != nil {
				return
			}
			continue
		default:
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		case <-e.poke:
		}
	}
}

type renewal struct {
	sent time.Time
	ok   bool
	err  error
}

// lead runs one term: Lead in the background, renewals in the foreground,
// and a step-down the moment the term may no longer act, whether or not a
// renewal is still waiting for an answer.
func (e *Elector) lead(ctx context.Context, epoch int64, sent time.Time) {
	term := fence.NewTerm(epoch, e.t.actUntil(sent))
	// A fenced transaction left idle this long is aborted by the server, so
	// a leader cut off mid-transaction delays a takeover by at most this.
	term.Hold = e.t.lease / 4
	e.last.Store(epoch)
	e.epoch.Store(epoch)
	e.log.Info("leader: this replica leads", "epoch", epoch, "lease", e.t.lease)
	e.tell(Leader, epoch)
	lctx, cancel := context.WithCancel(fence.With(ctx, term))
	done := make(chan struct{})
	go func() { defer close(done); e.o.Lead(lctx, term) }()

	results := make(chan renewal, 1)
	next, inflight := e.t.nextRenew(sent, false), false
	reason := ""
	for reason == "" {
		stop := time.NewTimer(time.Until(term.Until()))
		var renewC <-chan time.Time
		rt := time.NewTimer(time.Until(next))
		if !inflight {
			renewC = rt.C
		}
		select {
		case <-ctx.Done():
			reason = "shutting down"
		case <-done:
			reason = "leader work ended"
		case <-stop.C:
			reason = "lease not renewed in time"
		case <-renewC:
			inflight = true
			s := time.Now()
			go func() {
				rctx, rcancel := context.WithTimeout(ctx, e.t.renewTimeout(s, term.Until()))
				defer rcancel()
				ok, err := e.o.Backend.Renew(rctx, e.o.Holder, epoch, e.t.lease)
				results <- renewal{s, ok, err}
			}()
		case r := <-results:
			inflight = false
			switch {
			case r.err != nil:
				e.log.Warn("leader: lease renewal failed", "epoch", epoch, "err", r.err, "acts_until", term.Until())
				next = e.t.nextRenew(r.sent, true)
			case !r.ok:
				reason = "lease taken over"
			default:
				term.Extend(e.t.actUntil(r.sent))
				next = e.t.nextRenew(r.sent, false)
			}
		}
		stop.Stop()
		rt.Stop()
	}
	term.End()
	e.epoch.Store(0)
	e.tell(Follower, epoch)
	cancel()
	e.log.Warn("leader: stepping down", "epoch", epoch, "reason", reason)
	<-done
	if reason != "lease taken over" {
		// Hand over at once instead of letting followers wait out the lease.
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), e.t.renewEvery)
		if err := e.o.Backend.Release(rctx, e.o.Holder, epoch); err != nil {
			e.log.Warn("leader: could not release the lease; followers take over when it expires", "epoch", epoch, "err", err)
		}
		rcancel()
	}
}

func (e *Elector) tell(r Role, epoch int64) {
	if e.o.OnRole != nil {
		e.o.OnRole(r, epoch)
	}
}
