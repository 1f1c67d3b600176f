package forgesim

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ConclusionCancelled is a job cancelled in the forge's UI.
const ConclusionCancelled = "cancelled"

// giteaEpoch is what Gitea writes for a time that has not happened yet: its
// timeutil.TimeStamp 0, i.e. 1970-01-01T00:00:00Z.
var giteaEpoch = time.Unix(0, 0).UTC()

// giteaJobJSON is jobJSON as Gitea renders it: a job not yet started or
// finished carries 1970-01-01 rather than null or the creation time.
func giteaJobJSON(api string, j *job) map[string]any {
	m := jobJSON(api, j)
	if j.StartedAt.IsZero() {
		m["started_at"] = ghTime(giteaEpoch)
	}
	if j.CompletedAt.IsZero() {
		m["completed_at"] = ghTime(giteaEpoch)
	}
	return m
}

// CancelJob cancels a job as Gitea's and Forgejo's "Cancel" button does: the
// job ends as cancelled, no workflow_job webhook is sent, and the ephemeral
// runner that held it is deleted (a non-ephemeral one stays, idle). Only the
// Gitea and Forgejo flavors model this.
func (s *Sim) CancelJob(id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gt == nil {
		return fmt.Errorf("CancelJob models Gitea and Forgejo only")
	}
	for _, j := range s.jobs {
		if j.ID != id {
			continue
		}
		if j.Status == StatusCompleted {
			return fmt.Errorf("job %d already finished", id)
		}
		j.Status, j.Conclusion, j.CompletedAt = StatusCompleted, ConclusionCancelled, time.Now().UTC()
		if rn := s.runners[j.RunnerID]; rn != nil && rn.jobID == id {
			rn.busy = false
			if rn.ephemeral {
				s.removeRunnerLocked(rn)
			}
		}
		s.notifyLocked()
		s.opts.Logf("forgesim: job %d cancelled (no webhook)", id)
		return nil
	}
	return fmt.Errorf("no job %d", id)
}

func (s *Sim) handleCancelJob(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("job_id"), 10, 64)
	if err == nil {
		err = s.CancelJob(id)
	}
	if err != nil {
		writeError(w, http.StatusNotFound, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
