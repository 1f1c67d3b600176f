// Package poller is the polling intake: for every entity with `intake: poll`
// it lists queued jobs continuously, within an API budget per forge and hour,
// and hands what it finds to the controller. Scheduling (Schedule) is pure:
// it takes times and results and answers which entity to poll when, so its
// guarantees are tested without a clock or a network.
package poller

import (
	"sort"
	"time"
)

// Outcome is how one poll ended.
type Outcome string

const (
	OK          Outcome = "ok"
	NotModified Outcome = "not_modified"
	RateLimited Outcome = "rate_limited"
	Failed      Outcome = "error"
)

// Result is what one poll of one entity did.
type Result struct {
	Outcome Outcome
	// Calls the forge charges to the rate limit (every request but a 304).
	Calls int
	// NotModifiedCalls: 304 answers, which GitHub does not charge; the
	// schedule ignores them (MinInterval and MinGap bound their rate).
	NotModifiedCalls int
	// RetryAfter, for RateLimited: how long the forge asked to wait.
	RetryAfter time.Duration
	// Complete: the listing was not cut short (its call count is a true cost).
	Complete bool
}

// Limits shape a Schedule.
type Limits struct {
	// Budget: charged calls allowed per hour, for all entities of the forge.
	Budget int
	// MinInterval: an entity is polled at most this often, however cheap
	// its polls are (304s cost nothing, so without a floor they would spin).
	MinInterval time.Duration
	// MinGap: two polls of one forge start at least this far apart.
	MinGap time.Duration
	// MaxBackoff caps the exponential backoff after errors.
	MaxBackoff time.Duration
	// Burst: how much unused pace may be banked while polls are cheap, so a
	// sudden expensive listing (a burst of new runs) is followed at once by
	// the next poll rather than after its full pace. The trailing-hour cap
	// still holds. Default 2 minutes' worth of budget.
	Burst time.Duration
}

const (
	firstBackoff   = 2 * time.Second
	minRateLimited = time.Second
)

// Schedule plans the polls of one forge's entities.
//
// Budget: every charged call is logged; a poll may only start when the calls
// of the trailing hour leave room, and is given that room as its call bound
// (Next's maxCalls), so the hour's total can never exceed Budget. Pace: a
// token bucket refilled at Budget per hour and holding at most Burst's worth;
// a poll may start while the bucket is not in debt, and its k calls are taken
// from it afterwards. This spreads the budget over the hour instead of
// spending it at once and going silent, while cheap polls (304s) leave
// tokens for the moment many jobs arrive; polls never come more often than
// MinInterval per entity. Fairness: the entity polled longest ago goes
// next. Backoff: a rate limit stops the whole forge until its Retry-After; an
// error backs the entity off exponentially (2 s, 4 s, … MaxBackoff).
type Schedule struct {
	lim          Limits
	calls        []time.Time // charged calls in the trailing hour, oldest first
	paceUntil    time.Time   // the bucket is in debt until then (earned-up-to clock)
	gapUntil     time.Time
	limitedUntil time.Time
	ents         map[string]*entState
}

type entState struct {
	last     time.Time // last poll start; zero = never polled
	failures int
	until    time.Time // backed off until
	urgent   bool      // Prioritise: next poll skips MinInterval and goes first
}

// NewSchedule returns an empty schedule; zero Limits fields get defaults.
func NewSchedule(l Limits) *Schedule {
	if l.Budget <= 0 {
		l.Budget = 1200
	}
	if l.MinInterval <= 0 {
		l.MinInterval = 5 * time.Second
	}
	if l.MinGap <= 0 {
		l.MinGap = 250 * time.Millisecond
	}
	if l.MaxBackoff <= 0 {
		l.MaxBackoff = 5 * time.Minute
	}
	if l.Burst <= 0 {
		l.Burst = 2 * time.Minute
	}
	return &Schedule{lim: l, ents: map[string]*entState{}}
}

// pace is the even spacing of one charged call.
func (s *Schedule) pace() time.Duration { return time.Hour / time.Duration(s.lim.Budget) }

// Used is the number of charged calls in the hour before now.
func (s *Schedule) Used(now time.Time) int {
	s.expire(now)
	return len(s.calls)
}

// Remaining is Budget − Used.
func (s *Schedule) Remaining(now time.Time) int { return s.lim.Budget - s.Used(now) }

func (s *Schedule) expire(now time.Time) {
	cut := sort.Search(len(s.calls), func(i int) bool { return s.calls[i].After(now.Add(-time.Hour)) })
	s.calls = s.calls[cut:]
}

func (s *Schedule) ent(id string) *entState {
	e := s.ents[id]
	if e == nil {
		e = &entState{}
		s.ents[id] = e
	}
	return e
}

// Next says which of entities to poll and from when (never before now), and how many charged
// calls that poll may make. It returns id "" when entities is empty.
func (s *Schedule) Next(now time.Time, entities []string) (id string, at time.Time, maxCalls int) {
	if len(entities) == 0 {
		return "", time.Time{}, 0
	}
	// Forget entities that are no longer polled.
	keep := make(map[string]bool, len(entities))
	for _, e := range entities {
		keep[e] = true
	}
	for e := range s.ents {
		if !keep[e] {
			delete(s.ents, e)
		}
	}
	// The forge's floor: pace, rate limit, and room in the trailing hour.
	floor := later(s.paceUntil, s.gapUntil, s.limitedUntil)
	s.expire(now)
	if len(s.calls) >= s.lim.Budget {
		// Full: wait until enough calls leave the trailing hour.
		floor = later(floor, s.calls[len(s.calls)-s.lim.Budget].Add(time.Hour))
	}
	// Then fairness: of the entities ready soonest, the one polled longest
	// ago (never = first), ties by id so the order is deterministic.
	var best *entState
	for _, e := range entities {
		st := s.ent(e)
		ready := later(floor, st.until)
		if !st.last.IsZero() && !st.urgent {
			ready = later(ready, st.last.Add(s.lim.MinInterval))
		}
		ready = later(ready, now) // urgency never beats an entity already due
		if best == nil || ready.Before(at) ||
			ready.Equal(at) && (st.urgent && !best.urgent ||
				st.urgent == best.urgent && (st.last.Before(best.last) || st.last.Equal(best.last) && e < id)) {
			best, at, id = st, ready, e
		}
	}
	at = later(at, now)
	maxCalls = s.lim.Budget - s.usedAt(at)
	return id, at, max(maxCalls, 1)
}

// Prioritise asks for a poll of id as soon as the forge's budget, pace and
// any backoff allow, ahead of the other entities and without waiting out
// MinInterval: a webhook said it has new work. It spends no budget itself;
// an unknown id is ignored.
func (s *Schedule) Prioritise(id string) {
	if st, ok := s.ents[id]; ok {
		st.urgent = true
	}
}

// usedAt counts the logged calls still inside the hour before t.
func (s *Schedule) usedAt(t time.Time) int {
	n := 0
	for _, c := range s.calls {
		if c.After(t.Add(-time.Hour)) {
			n++
		}
	}
	return n
}

// Record notes a poll of id that started at start and ended at end.
func (s *Schedule) Record(id string, start, end time.Time, r Result) {
	st := s.ent(id)
	st.last, st.urgent = start, false
	// Calls are logged at the poll's end: later than they happened, so they
	// leave the trailing hour later, which only errs on the safe side.
	for range r.Calls {
		s.calls = append(s.calls, end)
	}
	s.paceUntil = later(s.paceUntil, start.Add(-s.lim.Burst)).Add(time.Duration(r.Calls) * s.pace())
	s.gapUntil = start.Add(s.lim.MinGap)
	switch r.Outcome {
	case OK, NotModified:
		st.failures, st.until = 0, time.Time{}
	case RateLimited:
		// The limit is the credential's, so it stops every entity of the forge.
		s.limitedUntil = later(s.limitedUntil, end.Add(max(r.RetryAfter, minRateLimited)))
	default:
		st.failures++
		st.until = end.Add(s.backoff(st.failures))
	}
}

func (s *Schedule) backoff(failures int) time.Duration {
	d := firstBackoff
	for i := 1; i < failures && d < s.lim.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.lim.MaxBackoff)
}

func later(t time.Time, more ...time.Time) time.Time {
	for _, m := range more {
		if m.After(t) {
			t = m
		}
	}
	return t
}
