package leader

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Bus carries the few messages replicas send each other through PostgreSQL
// LISTEN/NOTIFY: "wake" (a follower stored something the leader must act
// on), "poll FORGE ENTITY" (a follower was asked for an immediate poll) and
// "released" (the leader handed its lease back). A notification is
// delivered only after the sender's earlier writes committed, so a woken
// leader reads what woke it.
type Bus struct {
	pool   *pgxpool.Pool
	listen *pgx.ConnConfig
	log    *slog.Logger
	wake   chan struct{}
	out    chan string
}

// NewBus sends through pool and listens on a connection of its own made
// from cfg.
func NewBus(pool *pgxpool.Pool, cfg *pgx.ConnConfig, log *slog.Logger) *Bus {
	if log == nil {
		log = slog.Default()
	}
	return &Bus{pool: pool, listen: cfg, log: log, wake: make(chan struct{}, 1), out: make(chan string, 64)}
}

// Wake asks the leader to run its loop. Calls made while one is being sent
// coalesce into one more, as the controller's own Notify does.
func (b *Bus) Wake() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// Poll asks the leader's poller for an immediate poll of one entity. It is
// dropped if many are already waiting to be sent (the poller's schedule
// polls the entity anyway).
func (b *Bus) Poll(forgeID, entityID string) {
	select {
	case b.out <- "poll " + forgeID + " " + entityID:
	default:
	}
}

// ParsePoll splits a "poll" message.
func ParsePoll(msg string) (forgeID, entityID string, ok bool) {
	f := strings.Fields(msg)
	if len(f) != 3 || f[0] != "poll" {
		return "", "", false
	}
	return f[1], f[2], true
}

// Run sends queued messages and hands every received one to handle until
// ctx ends. A lost listening connection is reopened; handle is then called
// with "reconnected", since notifications sent meanwhile are lost.
func (b *Bus) Run(ctx context.Context, handle func(msg string)) {
	go b.send(ctx)
	first := true
	for ctx.Err() == nil {
		err := b.listenOnce(ctx, handle, first)
		first = false
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("replica bus: listening connection lost; reconnecting", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (b *Bus) listenOnce(ctx context.Context, handle func(string), first bool) error {
	conn, err := pgx.ConnectConfig(ctx, b.listen)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+Events); err != nil {
		return err
	}
	if !first {
		handle("reconnected")
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		handle(n.Payload)
	}
}

func (b *Bus) send(ctx context.Context) {
	for {
		var msg string
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
			msg = "wake"
		case msg = <-b.out:
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := b.pool.Exec(sctx, "SELECT pg_notify('"+Events+"', $1)", msg)
		cancel()
		if err != nil && ctx.Err() == nil {
			// The leader still acts on it at its next wake-up or reconcile.
			b.log.Warn("replica bus: could not notify the leader", "msg", msg, "err", err)
		}
	}
}
