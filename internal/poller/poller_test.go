package poller_test

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/poller"
)

func TestRateLimitStormRespectsBudgetAndLosesNoJob(t *testing.T) {
	const budget = 36000 // one charged call per 100 ms
	h := newHarness(t, setup{repos: []string{"a/one", "a/two"}, intake: core.IntakePoll,
		poller: poller.Options{BudgetPerHour: budget, Burst: time.Nanosecond, MinInterval: 50 * time.Millisecond,
			MinGap: 10 * time.Millisecond, MaxBackoff: time.Second}})
	start := time.Now()
	if err := h.sim.SetFaults(forgesim.Faults{RateLimitRate: 1, RetryAfter: time.Second}); err != nil {
		t.Fatal(err)
	}
	h.queue("a/one", 3)
	h.queue("a/two", 3)
	h.eventually("three rate-limited polls", 30*time.Second, func() bool {
		return counter(h.m, "polls", "sim", "rate_limited") >= 3
	})
	// Each limited answer carries Retry-After: 1, and stops the whole forge
	// for that long: at most one poll per second gets through to the storm
	// (plus the first). Elapsed is read last, so a slow machine only loosens this.
	limited := counter(h.m, "polls", "sim", "rate_limited")
	if since := time.Since(start); int(limited) > int(since/time.Second)+1 {
		t.Fatalf("%v rate-limited polls in %s with Retry-After 1 s", limited, since)
	}
	if n := h.storedJobs(); n != 0 {
		t.Fatalf("%d jobs stored during a total storm", n)
	}

	if err := h.sim.SetFaults(forgesim.Faults{}); err != nil {
		t.Fatal(err)
	}
	h.eventually("every job stored and given a machine", 10*time.Second, func() bool {
		return h.storedJobs() == 6 && h.prov.created() == 6
	})
	elapsed := time.Since(start)
	charged, _ := h.pollCalls()
	// Paced at one call per 100 ms; the last poll may spend what the hour
	// still had room for, which here is at most one listing (2 + 3 calls).
	if limit := int(elapsed/(100*time.Millisecond)) + 5; charged > limit {
		t.Fatalf("%d charged calls in %s, budget allows %d", charged, elapsed, limit)
	}
	// The poller counts exactly what the forge saw (304s apart).
	h.eventually("poller's count matches the forge's", 5*time.Second, func() bool {
		c, _ := h.pollCalls()
		return int(counter(h.m, "calls", "sim", "charged")) == c
	})
	if found := counter(h.m, "found", "sim"); found != 6 {
		t.Fatalf("jobs found by poll = %v, want 6", found)
	}
}

func TestUnchangedListingIsAnswered304AndCostsNothing(t *testing.T) {
	h := newHarness(t, setup{repos: []string{"a/etag"}, intake: core.IntakePoll,
		poller: poller.Options{MinInterval: 30 * time.Millisecond, MinGap: 10 * time.Millisecond}})
	h.queue("a/etag", 1)
	h.eventually("job found and many 304s", 10*time.Second, func() bool {
		_, nm := h.pollCalls()
		return h.storedJobs() == 1 && nm >= 20
	})
	// Two run listings and one run's jobs, once; every later poll was free.
	if charged, _ := h.pollCalls(); charged != 3 {
		t.Fatalf("charged calls = %d, want 3", charged)
	}
	if nm := counter(h.m, "polls", "sim", "not_modified"); nm < 10 {
		t.Fatalf("not_modified polls = %v", nm)
	}
	if used := counter(h.m, "used", "sim"); used != 3 {
		t.Fatalf("budget used = %v, want 3", used)
	}
	// Every poll can ask the controller which runner said it took a run.
	h.forges.mu.Lock()
	withClaims, polls := h.forges.withClaims, h.forges.polls["a/etag"]
	h.forges.mu.Unlock()
	if withClaims == 0 || withClaims != polls {
		t.Fatalf("%d of %d polls could ask for runners' claims", withClaims, polls)
	}

	// A new job changes the queued listing: one charged call for it and one
	// for the new run's jobs. The in-progress listing answers 304 and the
	// client still holds the page that ETag stands for, so it is not read
	// again; the first run's jobs answer 304 too.
	h.queue("a/etag", 1)
	h.eventually("second job found", 10*time.Second, func() bool { return h.storedJobs() == 2 })
	h.eventually("charges settle", 5*time.Second, func() bool {
		c, _ := h.pollCalls()
		return c == 3+1+1 && int(counter(h.m, "calls", "sim", "charged")) == c
	})
	// And stay there: every later poll is answered 304.
	_, nm := h.pollCalls()
	h.eventually("more 304s", 10*time.Second, func() bool { _, n := h.pollCalls(); return n >= nm+6 })
	if c, _ := h.pollCalls(); c != 3+1+1 {
		t.Fatalf("charged calls = %d after the second job, want 5", c)
	}
}

func TestPollsSpreadOverEntitiesWithinBudget(t *testing.T) {
	repos := []string{"s/a", "s/b", "s/c"}
	// 7200 an hour: one charged call per 500 ms. A first poll costs 2 calls
	// (no runs), so first polls come 1 s apart; later ones are 304s.
	start := time.Now()
	h := newHarness(t, setup{repos: repos, intake: core.IntakePoll,
		poller: poller.Options{BudgetPerHour: 7200, Burst: time.Nanosecond, MinInterval: 20 * time.Millisecond, MinGap: 5 * time.Millisecond}})
	h.eventually("two entities' first polls", 30*time.Second, func() bool { c, _ := h.pollCalls(); return c >= 3 })
	// At most the first poll's 2 calls plus one call per 500 ms since;
	// elapsed is read last, so a slow machine only loosens this.
	charged, _ := h.pollCalls()
	if since := time.Since(start); charged > int(since/(500*time.Millisecond))+2 {
		t.Fatalf("%d charged calls in %s at one per 500 ms", charged, since)
	}
	h.eventually("every entity polled several times", 10*time.Second, func() bool {
		for _, r := range repos {
			if h.forges.pollsOf(r) < 5 {
				return false
			}
		}
		return true
	})
	lo, hi := 1<<30, 0
	for _, r := range repos {
		n := h.forges.pollsOf(r)
		lo, hi = min(lo, n), max(hi, n)
	}
	// Round robin: no entity is more than one poll ahead of another (plus
	// one poll that may be in flight while counting).
	if hi-lo > 2 {
		t.Fatalf("polls per entity range %d..%d", lo, hi)
	}
}

func TestWebhooksAndPollingTogetherCreateOneMachinePerJob(t *testing.T) {
	h := newHarness(t, setup{repos: []string{"w/one", "w/two"}, intake: core.IntakePoll, webhooks: true,
		poller: poller.Options{BudgetPerHour: 36000, MinInterval: 100 * time.Millisecond, MinGap: 10 * time.Millisecond}})
	if err := h.sim.SetFaults(forgesim.Faults{WebhookDropRate: 0.5}); err != nil {
		t.Fatal(err)
	}
	h.queue("w/one", 10)
	h.queue("w/two", 10)
	h.eventually("every job stored with a machine", 15*time.Second, func() bool {
		return h.storedJobs() == 20 && h.prov.created() == 20
	})
	// Later polls and late webhooks must not add machines: wait until every
	// webhook was sent (or dropped) and each entity was polled twice more.
	h.eventually("every webhook sent or dropped", 15*time.Second, func() bool { return len(h.sim.Deliveries()) >= 20 })
	one, two := h.forges.pollsOf("w/one"), h.forges.pollsOf("w/two")
	h.eventually("two more polls of each entity", 15*time.Second, func() bool {
		return h.forges.pollsOf("w/one") >= one+2 && h.forges.pollsOf("w/two") >= two+2
	})
	if n := h.prov.created(); n != 20 {
		t.Fatalf("%d machines for 20 jobs", n)
	}
	st := h.sim.Stats()
	if st.WebhooksDropped == 0 || st.WebhooksDelivered == 0 {
		t.Fatalf("webhooks dropped %d delivered %d: both paths must be exercised", st.WebhooksDropped, st.WebhooksDelivered)
	}
	// Every job whose webhook was dropped was found by a poll.
	if found := counter(h.m, "found", "sim"); int(found) < st.WebhooksDropped {
		t.Fatalf("poll found %v jobs, %d webhooks were dropped", found, st.WebhooksDropped)
	}
}

func TestWebhookEntitiesAreNotPolled(t *testing.T) {
	h := newHarness(t, setup{repos: []string{"h/only", "h/polled"}, intake: core.IntakeWebhook,
		intakeOf: map[string]core.Intake{"h/polled": core.IntakePoll},
		poller:   poller.Options{MinInterval: 10 * time.Millisecond, Refresh: 50 * time.Millisecond}})
	// The poller went round often enough, through several refreshes of its
	// entity list, to have polled the webhook entity were it going to.
	h.eventually("20 polls of the polled entity", 30*time.Second, func() bool { return h.forges.pollsOf("h/polled") >= 20 })
	if n := h.forges.pollsOf("h/only"); n != 0 {
		t.Fatalf("webhook entity polled %d times by the poller", n)
	}
}
