package poller

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// A webhook's hint makes the entity next, without waiting out MinInterval,
// but never past the forge's budget pace.
func TestPrioritisedEntityGoesNextWithinBudget(t *testing.T) {
	s := NewSchedule(Limits{Budget: 3600, MinInterval: time.Minute, MinGap: time.Millisecond, Burst: time.Millisecond})
	ents := []string{"a", "b"}
	now := t0
	for _, id := range ents { // both polled once
		got, at, _ := s.Next(now, ents)
		if got != id {
			t.Fatalf("first round: got %q, want %q", got, id)
		}
		s.Record(got, at, at, Result{Outcome: OK, Calls: 1, Complete: true})
		now = at.Add(time.Second)
	}
	s.Prioritise("a")
	id, at, _ := s.Next(now, ents)
	if id != "a" || at.After(now.Add(time.Second)) {
		t.Fatalf("after Prioritise: %q at +%s; want a within the 1 s pace, not after MinInterval", id, at.Sub(now))
	}
	s.Record(id, at, at, Result{Outcome: OK, Calls: 1, Complete: true})
	// Urgency is spent by that poll: the next waits out MinInterval again.
	if id, at, _ := s.Next(at, ents); at.Before(t0.Add(time.Minute)) {
		t.Fatalf("after the urgent poll: %q at %s; want MinInterval respected", id, at.Sub(t0))
	}
	s.Prioritise("unknown") // ignored, no panic
}

// Forgejo sends no workflow_job webhooks: its repositories are polled
// whatever their intake; other forges' webhook entities are not.
func TestForgejoRepositoriesArePolledWhateverTheirIntake(t *testing.T) {
	cases := []struct {
		e    core.Entity
		kind core.ForgeKind
		want bool
	}{
		{core.Entity{Kind: core.EntityRepository, Intake: core.IntakeWebhook}, core.ForgeForgejo, true},
		{core.Entity{Kind: core.EntityOrganization, Intake: core.IntakeWebhook}, core.ForgeForgejo, false},
		{core.Entity{Kind: core.EntityRepository, Intake: core.IntakeWebhook}, core.ForgeGitea, false},
		{core.Entity{Kind: core.EntityRepository, Intake: core.IntakeWebhook}, core.ForgeGitHub, false},
		{core.Entity{Kind: core.EntityRepository, Intake: core.IntakePoll}, core.ForgeGitHub, true},
	}
	for _, c := range cases {
		if got := polled(c.e, c.kind); got != c.want {
			t.Errorf("%s %s intake %s: polled %v, want %v", c.kind, c.e.Kind, c.e.Intake, got, c.want)
		}
	}
	p := New(Options{})
	p.entities["f"] = []core.Entity{{ID: "e1"}}
	p.wake["f"] = make(chan struct{}, 1)
	if !p.PollNow("f", "e1") || p.PollNow("f", "e2") || p.PollNow("g", "e1") {
		t.Fatal("PollNow must accept only entities the poller polls")
	}
	if got := p.takeUrgent("f"); len(got) != 1 || got[0] != "e1" {
		t.Fatalf("urgent = %v", got)
	}
}
