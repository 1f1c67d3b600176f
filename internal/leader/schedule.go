package leader

import (
	"fmt"
	"time"
)

// Timing of one lease, derived from its length. A leader renews every third
// of the lease, so two renewals can fail before it must step down; it stops
// acting a margin before the lease ends by its own clock, measured from when
// it sent the renewal (the database stamps the lease later than that, so the
// local deadline is never after the database's).
type timing struct {
	lease      time.Duration
	renewEvery time.Duration // between successful renewals
	retryEvery time.Duration // after a failed renewal
	margin     time.Duration // stop acting this long before the local deadline
}

// MinLease and MaxLease bound ha.lease (the elector itself accepts down to
// minTestLease, for tests).
const (
	MinLease     = time.Second
	minTestLease = 100 * time.Millisecond
	MaxLease     = 5 * time.Minute
	DefaultLease = 10 * time.Second
)

func newTiming(lease time.Duration) (timing, error) {
	if lease < minTestLease || lease > MaxLease {
		return timing{}, fmt.Errorf("lease %s is outside %s…%s", lease, MinLease, MaxLease)
	}
	return timing{lease: lease, renewEvery: lease / 3, retryEvery: lease / 12, margin: lease / 5}, nil
}

// actUntil is how long a term renewed by a request sent at sent may act.
func (t timing) actUntil(sent time.Time) time.Time { return sent.Add(t.lease - t.margin) }

// nextRenew is when a leader whose last renewal attempt was sent at sent
// tries again: at the usual pace after a success, sooner after a failure.
func (t timing) nextRenew(sent time.Time, failed bool) time.Time {
	if failed {
		return sent.Add(t.retryEvery)
	}
	return sent.Add(t.renewEvery)
}

// renewTimeout bounds a renewal sent at now by a term that may act until
// until: an answer later than that is worthless.
func (t timing) renewTimeout(now, until time.Time) time.Duration {
	return max(until.Sub(now), time.Millisecond)
}

// followerWait is how long a follower waits before trying to take over when
// the current lease has remaining left by the database's clock: just past
// its end, but at least a little (no busy loop) and at most a third of the
// lease (a leader that released its lease early is noticed anyway).
func (t timing) followerWait(remaining time.Duration) time.Duration {
	return min(max(remaining+10*time.Millisecond, 20*time.Millisecond), t.renewEvery)
}
