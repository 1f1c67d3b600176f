package poller

import (
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// callLog checks the trailing-hour invariant independently of Schedule.
type callLog []time.Time

func (l callLog) inHourBefore(t time.Time) int {
	n := 0
	for _, c := range l {
		if c.After(t.Add(-time.Hour)) && !c.After(t) {
			n++
		}
	}
	return n
}

// Whatever the polls cost and however they end, no trailing hour ever holds
// more charged calls than the budget, and no poll is offered more calls than
// the hour has left.
func TestBudgetNeverExceededProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		budget := rapid.IntRange(5, 300).Draw(rt, "budget")
		nEnt := rapid.IntRange(1, 6).Draw(rt, "entities")
		var ents []string
		for i := range nEnt {
			ents = append(ents, fmt.Sprintf("e%d", i))
		}
		burst := time.Duration(rapid.IntRange(1, 7200).Draw(rt, "burst_s")) * time.Second
		s := NewSchedule(Limits{Budget: budget, MinInterval: time.Second, Burst: burst})
		var log callLog
		now := t0
		for step := range 200 {
			id, at, maxCalls := s.Next(now, ents)
			if at.Before(now) {
				at = now
			}
			if room := budget - log.inHourBefore(at); maxCalls > room {
				rt.Fatalf("step %d: offered %d calls with %d left in the hour", step, maxCalls, room)
			}
			// The poll spends up to what it was offered (a lister stops there).
			calls := min(rapid.IntRange(0, 40).Draw(rt, "calls"), maxCalls)
			dur := time.Duration(rapid.IntRange(0, 3000).Draw(rt, "ms")) * time.Millisecond
			end := at.Add(dur)
			for range calls {
				log = append(log, at.Add(dur/2)) // really made mid-poll
			}
			outcome := rapid.SampledFrom([]Outcome{OK, OK, NotModified, RateLimited, Failed}).Draw(rt, "outcome")
			s.Record(id, at, end, Result{Outcome: outcome, Calls: calls, Complete: true,
				RetryAfter: time.Duration(rapid.IntRange(0, 120).Draw(rt, "retry")) * time.Second})
			if n := log.inHourBefore(end); n > budget {
				rt.Fatalf("step %d: %d calls in the hour before %s, budget %d", step, n, end.Sub(t0), budget)
			}
			now = end
		}
	})
}

func TestCallsSpreadEvenlyOverEntities(t *testing.T) {
	ents := []string{"a", "b", "c", "d"}
	s := NewSchedule(Limits{Budget: 1200, MinInterval: time.Second, Burst: time.Nanosecond})
	counts := map[string]int{}
	var starts []time.Time
	now := t0
	for range 400 {
		id, at, _ := s.Next(now, ents)
		now = later(now, at)
		counts[id]++
		starts = append(starts, now)
		s.Record(id, now, now.Add(100*time.Millisecond), Result{Outcome: OK, Calls: 2, Complete: true})
	}
	for _, e := range ents {
		if counts[e] != 100 {
			t.Fatalf("polls per entity = %v, want 100 each", counts)
		}
	}
	// Budget 1200/h = one call per 3 s; a 2-call poll every 6 s, so the hour
	// is used evenly rather than in a burst.
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 6*time.Second-time.Millisecond || gap > 6*time.Second {
			t.Fatalf("poll %d started %s after the previous one, want 6s", i, gap)
		}
	}
}

func TestNotModifiedPollsGoFasterButRespectMinInterval(t *testing.T) {
	ents := []string{"a", "b"}
	s := NewSchedule(Limits{Budget: 60, MinInterval: 10 * time.Second, MinGap: time.Second})
	last := map[string]time.Time{}
	now := t0
	for i := range 20 {
		id, at, _ := s.Next(now, ents)
		now = later(now, at)
		if prev, ok := last[id]; ok && now.Sub(prev) < 10*time.Second {
			t.Fatalf("poll %d: %s polled %s after its previous poll", i, id, now.Sub(prev))
		}
		last[id] = now
		s.Record(id, now, now, Result{Outcome: NotModified, NotModifiedCalls: 2, Complete: true})
	}
	// 20 free polls of 2 entities every 10 s take ~100 s, where charged
	// polls at a 60/h budget (2 calls = 2 min each) would take 40 min.
	if elapsed := now.Sub(t0); elapsed > 2*time.Minute {
		t.Fatalf("304 polls took %s", elapsed)
	}
}

func TestRateLimitStopsWholeForgeUntilRetryAfter(t *testing.T) {
	ents := []string{"a", "b"}
	s := NewSchedule(Limits{Budget: 3600})
	id, at, _ := s.Next(t0, ents)
	s.Record(id, at, at, Result{Outcome: RateLimited, Calls: 1, RetryAfter: 45 * time.Second})
	_, next, _ := s.Next(at, ents)
	if next.Sub(at) < 45*time.Second {
		t.Fatalf("next poll %s after a 45 s Retry-After", next.Sub(at))
	}
	// Retry-After 0 still waits a moment rather than hammering.
	s.Record("b", next, next, Result{Outcome: RateLimited, Calls: 1})
	if _, n2, _ := s.Next(next, ents); n2.Sub(next) < time.Second {
		t.Fatalf("next poll %s after a rate limit without Retry-After", n2.Sub(next))
	}
}

func TestErrorsBackOffExponentiallyPerEntity(t *testing.T) {
	s := NewSchedule(Limits{Budget: 360000, MinInterval: time.Millisecond, MinGap: time.Millisecond, MaxBackoff: 30 * time.Second})
	now := t0
	var waits []time.Duration
	for range 6 {
		id, at, _ := s.Next(now, []string{"bad"})
		if id != "bad" {
			t.Fatal(id)
		}
		waits = append(waits, at.Sub(now))
		now = later(now, at)
		s.Record("bad", now, now, Result{Outcome: Failed, Calls: 1})
	}
	want := []int{0, 2, 4, 8, 16, 30}
	for i, w := range want {
		if waits[i] != time.Duration(w)*time.Second {
			t.Fatalf("waits = %v, want %v seconds", waits, want)
		}
	}
	// A healthy entity is not held back by the failing one.
	if id, at, _ := s.Next(now, []string{"bad", "good"}); id != "good" || at.Sub(now) > time.Second {
		t.Fatalf("next = %s at +%s, want good at once", id, at.Sub(now))
	}
	// Success resets the backoff.
	s.Record("bad", now, now, Result{Outcome: OK, Calls: 1})
	s.Record("good", now, now, Result{Outcome: OK, Calls: 1})
	if _, at, _ := s.Next(now, []string{"bad"}); at.Sub(now) > time.Second {
		t.Fatalf("after success the entity waits %s", at.Sub(now))
	}
}

func TestFullWindowWaitsForOldestCallToExpire(t *testing.T) {
	s := NewSchedule(Limits{Budget: 10})
	s.Record("a", t0, t0, Result{Outcome: OK, Calls: 10, Complete: true})
	_, at, maxCalls := s.Next(t0, []string{"a"})
	if at.Before(t0.Add(time.Hour)) || maxCalls != 10 {
		t.Fatalf("next at +%s with %d calls; want after the hour with the whole budget", at.Sub(t0), maxCalls)
	}
	if s.Used(t0) != 10 || s.Remaining(t0) != 0 || s.Used(t0.Add(time.Hour)) != 0 {
		t.Fatalf("used %d remaining %d", s.Used(t0), s.Remaining(t0))
	}
}

func TestBankedBudgetLetsNextPollFollowAnExpensiveOne(t *testing.T) {
	// 1200 an hour = one call per 3 s; 2 minutes banked = 40 calls.
	s := NewSchedule(Limits{Budget: 1200, Burst: 2 * time.Minute, MinGap: time.Second})
	ents := []string{"a", "b"}
	id, at, _ := s.Next(t0, ents)
	s.Record(id, at, at, Result{Outcome: OK, Calls: 30, Complete: true})
	// 30 of the 40 banked calls spent: the next poll need not wait 90 s.
	_, at, _ = s.Next(at, ents)
	if at.Sub(t0) != time.Second {
		t.Fatalf("second poll at +%s, want +1s (MinGap)", at.Sub(t0))
	}
	s.Record("b", at, at, Result{Outcome: OK, Calls: 30, Complete: true})
	// 60 calls taken, 40 were banked: the other 20 are earned by +60 s.
	if _, next, _ := s.Next(at, ents); next.Sub(t0) != time.Minute {
		t.Fatalf("third poll at +%s, want +60s", next.Sub(t0))
	}
}
