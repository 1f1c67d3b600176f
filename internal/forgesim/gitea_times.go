package forgesim

import (
	"net/http"
	"strconv"
	"time"
)

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

// handleCancelJob is POST /_sim/gitea/jobs/{job_id}/cancel: CancelJob over
// HTTP, for tests that drive the sim from outside.
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
