package poller_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/poller"
	"github.com/paddock-ci/paddock/internal/store"
)

// A listed job gets the limits a webhook's gets (forge.CheckJob): absurd
// labels or names are refused, the rest of the listing is taken.
func TestPolledJobsGetTheWebhookLimits(t *testing.T) {
	h := newHarness(t, setup{repos: []string{"a/lim"}, intake: core.IntakePoll,
		poller: poller.Options{MinInterval: 30 * time.Millisecond, MinGap: 10 * time.Millisecond}})
	many := make([]string, 65)
	for i := range many {
		many[i] = "linux"
	}
	for _, spec := range []forgesim.JobSpec{
		{Repo: "a/lim", Labels: many},
		{Repo: "a/lim", Labels: []string{"self-hosted", "linux"}, Name: strings.Repeat("n", 2000)},
		{Repo: "a/lim", Labels: []string{"self-hosted", "linux"}, Name: "fine"},
	} {
		if _, err := h.sim.QueueJob(spec); err != nil {
			t.Fatal(err)
		}
	}
	// The good job was listed together with (or after) the absurd ones.
	h.eventually("the good job stored", 10*time.Second, func() bool {
		js, _ := h.st.ListJobs(h.ctx, store.JobFilter{})
		for _, j := range js {
			if j.Name == "fine" {
				return true
			}
		}
		return false
	})
	js, _ := h.st.ListJobs(h.ctx, store.JobFilter{})
	if len(js) != 1 {
		t.Fatalf("%d jobs stored, want only the good one: %d labels / %d-byte name on the first", len(js), len(js[0].Labels), len(js[0].Name))
	}
}
