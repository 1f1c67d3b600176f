package scaleset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// listener keeps one pool's message session and turns messages into job
// events. Messages are acknowledged only after they were applied, so a
// crash in between replays them; applying is idempotent.
type listener struct {
	m      *Manager
	b      *binding
	events Events
	log    *slog.Logger

	// canceled notes jobs whose assignment GitHub cancelled (JobCompleted,
	// result canceled, no runner), by when: they stay queued for a while
	// because GitHub usually assigns them again.
	canceled map[int64]time.Time
	// excessSince is when more jobs started waiting here than the statistics
	// count; past ReassignGrace the excess is retired.
	excessSince time.Time
	// deficitSince is when the statistics first asked for more jobs than
	// were named; see applyStats.
	deficitSince time.Time
}

// newListener is called with m.mu held.
func (m *Manager) newListener(poolID string, events Events) *listener {
	return &listener{m: m, b: m.bindingLocked(poolID), events: events, log: m.log.With("pool_id", poolID),
		canceled: map[int64]time.Time{}}
}

// isConflict: another process holds the scale set's session.
func isConflict(err error) bool {
	s := err.Error()
	return strings.Contains(s, "TaskAgentSessionConflictException") || strings.Contains(s, "409 Conflict")
}

// run opens a session, polls until it breaks, and starts over, with backoff,
// until ctx ends. A 409 means another process holds the session: GitHub
// lets it go when its holder stops polling, and this loop then takes over.
func (l *listener) run(ctx context.Context) {
	wait := l.m.o.MinBackoff
	for ctx.Err() == nil {
		err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case err == nil:
			wait = l.m.o.MinBackoff
			continue
		case isConflict(err):
			l.log.Warn("scale set session is held by another process; retrying until it expires", "retry_in", wait)
		default:
			l.log.Error("scale set listener", "err", err, "retry_in", wait)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, l.m.o.MaxBackoff)
	}
}

// session runs one message session to its end.
func (l *listener) session(ctx context.Context) error {
	client, set, pool, err := l.b.resolve(ctx)
	if err != nil {
		return err
	}
	sess, err := client.MessageSessionClient(ctx, set.ID, l.m.o.Owner)
	if err != nil {
		return err
	}
	defer func() {
		// A clean stop frees the session at once, so a restart need not wait
		// for it to expire. Without the session ctx, which may be over.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sess.Close(cctx); err != nil {
			l.log.Debug("close scale set session", "err", err)
		}
	}()
	info := sess.Session()
	l.log.Info("scale set session open", "pool", pool.Name, "scale_set", set.Name, "scale_set_id", set.ID,
		"session", info.SessionID)
	stats := info.Statistics
	if err := l.applyStats(ctx, stats, false); err != nil {
		return err
	}
	last := 0
	for {
		// The pool is re-read on every poll so a changed max_runners is the
		// capacity GitHub hears next.
		pool, _, _, err := l.m.load(ctx, l.b.poolID)
		if err != nil {
			return err
		}
		msg, err := sess.GetMessage(ctx, last, max(pool.MaxRunners, 0))
		if err != nil {
			return fmt.Errorf("get message: %w", err)
		}
		if msg == nil {
			// Nothing new: the latest statistics still stand, but a cancelled
			// assignment may have outlived its grace.
			if err := l.applyStats(ctx, stats, true); err != nil {
				return err
			}
			continue
		}
		if err := l.apply(ctx, pool, msg); err != nil {
			return fmt.Errorf("message %d: %w", msg.MessageID, err)
		}
		if msg.Statistics != nil {
			stats = msg.Statistics
		}
		if err := l.applyStats(ctx, stats, false); err != nil {
			return err
		}
		if err := sess.DeleteMessage(ctx, msg.MessageID); err != nil {
			return fmt.Errorf("acknowledge message %d: %w", msg.MessageID, err)
		}
		last = msg.MessageID
	}
}

// errNoStats: GitHub always sends statistics; without them there is nothing
// safe to scale to.
var errNoStats = errors.New("message carries no statistics")
