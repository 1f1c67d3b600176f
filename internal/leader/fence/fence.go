// Package fence carries a leader's term (its epoch, the fencing token) in a
// context, so that work the leader started is refused once the term is over:
// the PostgreSQL store checks the epoch inside each write transaction (Check),
// and provider and forge side effects check the locally known lease deadline
// right before the call (Term.Valid, Provider, Forges).
//
// A context without a term is not fenced: requests any replica serves
// (webhooks, machine callbacks, the REST API) write as before.
package fence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrFenced: the leader term that started this work is over (its lease ran
// out or another replica took over), so the work must not take effect.
var ErrFenced = errors.New("fenced: this replica is no longer the leader")

// Term is one leadership term of one replica.
type Term struct {
	// Epoch increases on every takeover; it is the fencing token.
	Epoch int64
	// Hold bounds how long a transaction of this term may sit idle at the
	// database (see Check); zero means half a second.
	Hold time.Duration
	// until is the local moment (unix nanoseconds) after which the term may
	// no longer act: the locally known lease deadline minus a safety margin.
	until atomic.Int64
	// ended is set when the replica stepped down.
	ended atomic.Bool
}

// NewTerm starts a term that may act until the given moment.
func NewTerm(epoch int64, until time.Time) *Term {
	t := &Term{Epoch: epoch}
	t.until.Store(until.UnixNano())
	return t
}

// Extend moves the moment the term may act until (after a renewal).
func (t *Term) Extend(until time.Time) { t.until.Store(until.UnixNano()) }

// Until is the moment the term may act until.
func (t *Term) Until() time.Time { return time.Unix(0, t.until.Load()) }

// End marks the term over: every later Valid fails.
func (t *Term) End() { t.ended.Store(true) }

// Valid says whether the term may still act at now.
func (t *Term) Valid(now time.Time) error {
	if t.ended.Load() {
		return fmt.Errorf("%w (term %d ended)", ErrFenced, t.Epoch)
	}
	if !now.Before(t.Until()) {
		return fmt.Errorf("%w (lease of term %d not renewed in time)", ErrFenced, t.Epoch)
	}
	return nil
}

type key struct{}

// With returns ctx carrying term t.
func With(ctx context.Context, t *Term) context.Context { return context.WithValue(ctx, key{}, t) }

// From returns the term ctx carries, if any.
func From(ctx context.Context) (*Term, bool) {
	t, ok := ctx.Value(key{}).(*Term)
	return t, ok
}

// Guard fails if ctx carries a term that may no longer act. Call it right
// before a side effect outside the database.
func Guard(ctx context.Context) error {
	if t, ok := From(ctx); ok {
		return t.Valid(time.Now())
	}
	return nil
}

// Querier is what Check needs of a transaction (pgx.Tx has it).
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// LeaseTable is the lease row's table (migration 0100).
const LeaseTable = "paddock_leader"

// checkSQL locks the lease row FOR SHARE until the transaction ends: a
// takeover (an UPDATE of that row) waits for the transaction, so once a new
// epoch is committed no transaction of the old one can commit after it.
// A leader cut off from the database mid-transaction would hold that lock
// (and block every takeover) until the server noticed the dead connection,
// which for a silent network can take hours: the same statement sets
// idle_in_transaction_session_timeout for this transaction, so the server
// aborts it once the client has gone quiet for $1 milliseconds.
const checkSQL = `SELECT set_config('idle_in_transaction_session_timeout', $1, true), epoch, expires_at > now()
FROM ` + LeaseTable + ` WHERE id = 1 FOR SHARE`

// Check fails with ErrFenced if ctx carries a term whose epoch is no longer
// the one in the lease row, or whose lease has expired by the database's
// clock. Call it first in every write transaction of a shared store.
func Check(ctx context.Context, q Querier) error {
	t, ok := From(ctx)
	if !ok {
		return nil
	}
	if err := t.Valid(time.Now()); err != nil {
		return err
	}
	var epoch int64
	var live bool
	var set string
	hold := t.Hold
	if hold <= 0 {
		hold = 500 * time.Millisecond
	}
	if err := q.QueryRow(ctx, checkSQL, strconv.FormatInt(hold.Milliseconds(), 10)).Scan(&set, &epoch, &live); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w (no lease row)", ErrFenced)
		}
		return fmt.Errorf("check leader epoch: %w", err)
	}
	if epoch != t.Epoch {
		return fmt.Errorf("%w (term %d, current epoch %d)", ErrFenced, t.Epoch, epoch)
	}
	if !live {
		return fmt.Errorf("%w (lease of term %d expired)", ErrFenced, t.Epoch)
	}
	return nil
}
