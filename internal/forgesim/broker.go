package forgesim

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// The runner protocol below stands in for GitHub's private broker API. The
// rules it enforces are GitHub's: a JIT config connects once, an ephemeral
// runner gets one job, and removing a runner ends its session.

// AssignedJob is what a runner's poll returns. The run, repository and
// workflow are what GitHub's job message gives its runner, which exports them
// to the job (and its job-started hook) as GITHUB_RUN_ID, GITHUB_REPOSITORY …
type AssignedJob struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	DurationMS int64  `json:"duration_ms"`
	Command    string `json:"command,omitempty"`
	RunID      int64  `json:"run_id"`
	RunAttempt int64  `json:"run_attempt"`
	Repository string `json:"repository"`
	Workflow   string `json:"workflow"`
}

// CompleteRequest reports a finished job.
type CompleteRequest struct {
	JobID      int64  `json:"job_id"`
	Conclusion string `json:"conclusion"`
}

// runnerByTokenLocked authenticates a runner call by its JIT secret (sent as
// a bearer token). Caller holds s.mu.
func (s *Sim) runnerByTokenLocked(r *http.Request) (*runner, int, string) {
	tok := bearer(r)
	if tok == "" {
		return nil, http.StatusUnauthorized, "missing runner credential"
	}
	for _, rn := range s.runners {
		if rn.secret != tok {
			continue
		}
		if !rn.connected {
			return nil, http.StatusUnauthorized, "runner has not connected"
		}
		return rn, 0, ""
	}
	if _, ok := s.retired[tok]; ok {
		// Not an auth failure: the runner's session is simply over.
		return nil, http.StatusGone, "runner registration was removed"
	}
	return nil, http.StatusUnauthorized, "bad runner credential"
}

func (s *Sim) handleConnect(w http.ResponseWriter, r *http.Request) {
	var body struct {
		JIT string `json:"jit"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.JIT == "" {
		writeError(w, http.StatusBadRequest, "body must be {\"jit\": \"<encoded_jit_config>\"}")
		return
	}
	p, err := DecodeJIT(body.JIT)
	if err != nil {
		writeError(w, http.StatusUnauthorized, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rn := s.runners[p.RunnerID]
	switch {
	case rn == nil:
		writeError(w, http.StatusNotFound, "runner registration not found (deleted?)")
	case rn.secret != p.Secret || rn.name != p.RunnerName:
		writeError(w, http.StatusUnauthorized, "jit config does not match the runner registration")
	case rn.connected:
		writeError(w, http.StatusUnauthorized, "jit config has already been used")
	default:
		rn.connected, rn.online, rn.os = true, true, "linux"
		s.stats.RunnersConnected++
		s.notifyLocked()
		s.opts.Logf("forgesim: runner %d %q online", rn.id, rn.name)
		writeJSON(w, http.StatusOK, map[string]any{"runner_id": rn.id, "runner_name": rn.name})
	}
}

// handlePoll long-polls for a job: 200 with the job, 204 to poll again, 410
// once the runner is removed (after its job, or deleted while idle).
func (s *Sim) handlePoll(w http.ResponseWriter, r *http.Request) {
	deadline := time.NewTimer(s.opts.LongPoll)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		rn, code, msg := s.runnerByTokenLocked(r)
		if rn == nil {
			s.mu.Unlock()
			writeError(w, code, msg)
			return
		}
		j := s.assignLocked(rn)
		changed, gone := s.changed, rn.gone
		var out AssignedJob
		if j != nil {
			out = AssignedJob{ID: j.ID, Name: j.Name, DurationMS: j.Duration.Milliseconds(), Command: j.Command,
				RunID: j.RunID, RunAttempt: 1, Repository: j.Repo, Workflow: j.WorkflowName}
		}
		s.mu.Unlock()
		if j != nil {
			writeJSON(w, http.StatusOK, out)
			return
		}
		select {
		case <-changed:
		case <-gone:
			writeError(w, http.StatusGone, "runner registration was removed")
			return
		case <-deadline.C:
			w.WriteHeader(http.StatusNoContent)
			return
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Sim) handleComplete(w http.ResponseWriter, r *http.Request) {
	var req CompleteRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "body must be {\"job_id\": N, \"conclusion\": \"success|failure\"}")
		return
	}
	req.Conclusion = strings.ToLower(req.Conclusion)
	if req.Conclusion != ConclusionSuccess && req.Conclusion != ConclusionFailure {
		writeError(w, http.StatusBadRequest, "conclusion must be success or failure")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rn, code, msg := s.runnerByTokenLocked(r)
	if rn == nil {
		// A retry of a completion that already went through finds the
		// runner gone; the job's state tells whether that is fine.
		if code == http.StatusGone && s.jobDoneLocked(req.JobID) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		writeError(w, code, msg)
		return
	}
	if err := s.completeLocked(rn, req.JobID, req.Conclusion); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.opts.Logf("forgesim: runner %d finished job %d: %s", rn.id, req.JobID, req.Conclusion)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sim) jobDoneLocked(id int64) bool {
	for _, j := range s.jobs {
		if j.ID == id {
			return j.Status == StatusCompleted
		}
	}
	return false
}
