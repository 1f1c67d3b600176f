package forgesim

import (
	"net/http"
	"strconv"
	"time"
)

// giteaEpoch is what Gitea writes for a time that has not happened yet: its
// timeutil.TimeStamp 0, i.e. 1970-01-01T00:00:00Z.
var giteaEpoch = time.Unix(0, 0).UTC()

// giteaJobJSON is jobJSON as Gitea 1.25 renders it: a job not yet started
// or finished carries 1970-01-01 rather than null or the creation time;
// there is no workflow_name, runner group, node_id or check_run_url; steps
// is null; conclusion is absent until the job completes; run_attempt is 0
// until then and 1 after (seen on a real 1.25.4 with act_runner).
func giteaJobJSON(api string, j *job) map[string]any {
	m := jobJSON(api, j)
	for _, k := range []string{"workflow_name", "runner_group_id", "runner_group_name", "node_id", "check_run_url"} {
		delete(m, k)
	}
	m["steps"] = nil
	m["run_attempt"] = 0
	if j.Status == StatusCompleted {
		m["run_attempt"] = 1
	} else {
		delete(m, "conclusion")
	}
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
