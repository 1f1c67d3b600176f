package forgesim

import (
	"fmt"
	"time"
)

// StatusWaiting is a job blocked on another job it needs (Gitea's "waiting").
const StatusWaiting = "waiting"

// ConclusionSkipped is a waiting job's conclusion when the job it needs did
// not succeed.
const ConclusionSkipped = "skipped"

// queueOrWaitLocked announces a new job: a job whose Needs has not finished
// waits, and Gitea (not GitHub, which creates the job only once unblocked)
// sends a workflow_job "waiting" webhook for it. Caller holds s.mu.
func (s *Sim) queueOrWaitLocked(j *job) {
	if j.Needs != 0 {
		if dep := s.jobLocked(j.Needs); dep != nil && dep.Status != StatusCompleted {
			j.Status = StatusWaiting
			if s.gt != nil {
				s.enqueueHookLocked("waiting", j)
			}
			return
		}
	}
	s.enqueueHookLocked("queued", j)
	s.scaleSetQueuedLocked(j)
}

// releaseWaitingLocked moves the jobs waiting on the finished job done to the
// queue when it succeeded, or skips them (no runner, no webhook) when it did
// not. Caller holds s.mu.
func (s *Sim) releaseWaitingLocked(done *job) {
	for _, j := range s.jobs {
		if j.Status != StatusWaiting || j.Needs != done.ID {
			continue
		}
		if done.Conclusion == ConclusionSuccess {
			j.Status = StatusQueued
			s.enqueueHookLocked("queued", j)
			s.scaleSetQueuedLocked(j)
			continue
		}
		j.Status, j.Conclusion, j.CompletedAt = StatusCompleted, ConclusionSkipped, time.Now().UTC()
		s.releaseWaitingLocked(j)
	}
}

// SupersedeJob cancels a job that no runner has taken, as Gitea does to the
// jobs of a run a newer push superseded: the job completes as cancelled and
// a workflow_job "completed" webhook names no runner.
func (s *Sim) SupersedeJob(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobLocked(id)
	if j == nil || (j.Status != StatusQueued && j.Status != StatusWaiting) {
		return fmt.Errorf("forgesim: job %d is not queued or waiting", id)
	}
	j.Status, j.Conclusion, j.CompletedAt = StatusCompleted, ConclusionCancelled, time.Now().UTC()
	s.enqueueHookLocked("completed", j)
	s.releaseWaitingLocked(j)
	s.notifyLocked()
	s.opts.Logf("forgesim: job %d superseded", id)
	return nil
}
