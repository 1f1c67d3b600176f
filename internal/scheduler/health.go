package scheduler

import "time"

// PoolHealth is a pool's record of its recent machine creates, kept by the
// controller and passed in with each snapshot. A pool whose provider fails
// every create (quota exceeded, broken image, missing profile) is then called
// less and less often instead of in a tight loop, and says why it fails.
type PoolHealth struct {
	// Failures counts failed creates in a row; 0 means healthy. Failures that
	// finish while the pool already backs off do not count again, so a burst of
	// parallel creates failing together is one step of backoff, not many.
	Failures int `json:"failures"`
	// NextCreateAt: while failing, no create (new machine or retry) starts before it.
	NextCreateAt time.Time `json:"next_create_at"`
	// LastError is the provider's latest create error.
	LastError string `json:"last_error,omitempty"`
	// Since is when the pool started failing.
	Since time.Time `json:"since"`
}

// Failing reports whether the pool's latest creates failed.
func (h PoolHealth) Failing() bool { return h.Failures > 0 }

// Bounds of the per-pool create backoff.
const (
	CreateBackoffBase = time.Second
	CreateBackoffMax  = 5 * time.Minute
)

// CreateBackoff is the pause after the given number of failed creates in a
// row: 1 s, doubling, at most CreateBackoffMax.
func CreateBackoff(failures int) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := CreateBackoffBase
	for range failures - 1 {
		d *= 2
		if d >= CreateBackoffMax {
			return CreateBackoffMax
		}
	}
	return d
}

// CreateFailed returns the health after a create that failed at now with msg.
func (h PoolHealth) CreateFailed(now time.Time, msg string) PoolHealth {
	if !h.Failing() {
		h.Since = now
	}
	if !h.Failing() || !now.Before(h.NextCreateAt) {
		h.Failures++
		h.NextCreateAt = now.Add(CreateBackoff(h.Failures))
	}
	h.LastError = msg
	return h
}

// budget is how many provider creates (new machines and retries together) a
// pool may start now: unlimited (-1) when healthy; while failing, none before
// NextCreateAt or while a create is still in flight, else one, which probes
// whether the provider works again.
func (h PoolHealth) budget(now time.Time, inflight int) int {
	switch {
	case !h.Failing():
		return -1
	case now.Before(h.NextCreateAt) || inflight > 0:
		return 0
	}
	return 1
}
