package scaleset_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/store"
)

// A scale-set message's job gets the limits a webhook's gets
// (forge.CheckJobEvent): one with an absurd name is not stored; the next
// message's job is.
func TestScaleSetJobsGetTheWebhookLimits(t *testing.T) {
	h := newHarness(t, 3)
	h.startMgr()
	for _, name := range []string{strings.Repeat("n", 2000), "fine"} {
		if _, err := h.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{setName}, Name: name,
			Duration: 100 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	// Messages are applied in order: once the good job is stored, the
	// absurd one's message has been seen.
	h.eventually("the good job stored", 30*time.Second, func() bool {
		js, _ := h.st.ListJobs(h.ctx, store.JobFilter{})
		for _, j := range js {
			if j.Name == "fine" {
				return true
			}
		}
		return false
	})
	js, _ := h.st.ListJobs(h.ctx, store.JobFilter{})
	for _, j := range js {
		if len(j.Name) > 1024 {
			t.Fatalf("job %d with a %d-byte name was stored", j.ID, len(j.Name))
		}
	}
}
