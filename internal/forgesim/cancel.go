package forgesim

import (
	"fmt"
	"time"
)

// ConclusionCancelled is a cancelled job's conclusion.
const ConclusionCancelled = "cancelled"

// Flavor is the forge the sim plays: FlavorGitHub, FlavorGitea or FlavorForgejo.
func (s *Sim) Flavor() string {
	if s.gt != nil {
		return s.gt.flavor
	}
	return FlavorGitHub
}

// CancelJob cancels a queued or running job, as a user does in the forge's
// UI. The runner holding it loses it; an ephemeral runner's registration is
// removed. GitHub sends a completed webhook; Gitea and Forgejo send none.
func (s *Sim) CancelJob(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobLocked(id)
	if j == nil || j.Status == StatusCompleted {
		return fmt.Errorf("forgesim: job %d is not queued or running", id)
	}
	j.Status, j.Conclusion, j.CompletedAt = StatusCompleted, ConclusionCancelled, time.Now().UTC()
	if s.gt == nil {
		s.enqueueHookLocked("completed", j)
	}
	s.releaseWaitingLocked(j)
	for _, rn := range s.runners {
		if rn.jobID != id {
			continue
		}
		rn.busy = false
		if rn.ephemeral {
			s.removeRunnerLocked(rn)
		}
	}
	s.notifyLocked()
	s.opts.Logf("forgesim: job %d cancelled", id)
	return nil
}
