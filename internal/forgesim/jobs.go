package forgesim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Job statuses and conclusions, as GitHub spells them.
const (
	StatusQueued       = "queued"
	StatusInProgress   = "in_progress"
	StatusCompleted    = "completed"
	ConclusionSuccess  = "success"
	ConclusionFailure  = "failure"
	defaultWorkflow    = "CI"
	defaultBranch      = "main"
	defaultRunnerGroup = "Default"
)

// JobSpec describes a job to queue. Each job gets its own workflow run.
type JobSpec struct {
	Repo     string        `json:"repo"`          // owner/name
	Org      string        `json:"org,omitempty"` // organization the repository belongs to, if any
	Labels   []string      `json:"labels"`        // runs-on
	Name     string        `json:"name,omitempty"`
	Duration time.Duration `json:"duration,omitempty"` // how long the runner "works" (when Command is empty)
	Command  string        `json:"command,omitempty"`  // shell command the runner executes instead
	Needs    int64         `json:"needs,omitempty"`    // id of a job this one waits for (needs:)
}

// Job is a snapshot of a workflow job.
type Job struct {
	ID              int64         `json:"id"`
	RunID           int64         `json:"run_id"`
	Repo            string        `json:"repo"`
	Org             string        `json:"org,omitempty"`
	Name            string        `json:"name"`
	Labels          []string      `json:"labels"`
	Status          string        `json:"status"`
	Conclusion      string        `json:"conclusion,omitempty"`
	RunnerID        int64         `json:"runner_id,omitempty"`
	RunnerName      string        `json:"runner_name,omitempty"`
	RunnerGroupID   int64         `json:"runner_group_id,omitempty"`
	RunnerGroupName string        `json:"runner_group_name,omitempty"`
	CreatedAt       time.Time     `json:"created_at"`
	StartedAt       time.Time     `json:"started_at,omitzero"`
	CompletedAt     time.Time     `json:"completed_at,omitzero"`
	Duration        time.Duration `json:"duration"`
	Command         string        `json:"command,omitempty"`
	HeadSHA         string        `json:"head_sha"`
	HeadBranch      string        `json:"head_branch"`
	WorkflowName    string        `json:"workflow_name"`
	Needs           int64         `json:"needs,omitempty"`
}

// job is the sim's mutable record; Job is its snapshot.
type job = Job

func (s JobSpec) validate() error {
	owner, name, ok := strings.Cut(s.Repo, "/")
	switch {
	case !ok || owner == "" || name == "" || strings.Contains(name, "/"):
		return fmt.Errorf("repo must be \"owner/name\", got %q", s.Repo)
	case len(s.Labels) == 0:
		return fmt.Errorf("a job needs at least one label (runs-on)")
	case s.Duration < 0:
		return fmt.Errorf("duration must not be negative")
	}
	for _, l := range s.Labels {
		if strings.TrimSpace(l) == "" {
			return fmt.Errorf("labels must not be empty strings")
		}
	}
	return nil
}

// QueueJob creates a queued job (in a new workflow run) and announces it with
// a workflow_job "queued" webhook.
func (s *Sim) QueueJob(spec JobSpec) (Job, error) {
	if err := spec.validate(); err != nil {
		return Job{}, err
	}
	if spec.Name == "" {
		spec.Name = "build"
	}
	s.mu.Lock()
	if spec.Needs != 0 && s.jobLocked(spec.Needs) == nil {
		s.mu.Unlock()
		return Job{}, fmt.Errorf("needs: no job %d; queue the job it waits for first", spec.Needs)
	}
	j := &job{ID: s.nextJob, RunID: s.nextRun, Repo: spec.Repo, Org: spec.Org, Name: spec.Name,
		Labels: slices.Clone(spec.Labels), Status: StatusQueued, CreatedAt: time.Now().UTC(),
		Duration: spec.Duration, Command: spec.Command, HeadSHA: randomHex(20),
		HeadBranch: defaultBranch, WorkflowName: defaultWorkflow, Needs: spec.Needs}
	s.nextJob++
	s.nextRun++
	s.jobs = append(s.jobs, j)
	s.queueOrWaitLocked(j)
	s.notifyLocked()
	snap := *j
	s.mu.Unlock()
	s.opts.Logf("forgesim: queued job %d in %s labels %v", j.ID, j.Repo, j.Labels)
	return snap, nil
}

// Jobs returns every job, oldest first.
func (s *Sim) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Job, len(s.jobs))
	for i, j := range s.jobs {
		out[i] = *j
		out[i].Labels = slices.Clone(j.Labels)
	}
	return out
}

// WaitJobs blocks until cond holds for the current jobs or ctx ends.
func (s *Sim) WaitJobs(ctx context.Context, cond func([]Job) bool) error {
	for {
		s.mu.Lock()
		ch := s.changed
		s.mu.Unlock()
		if cond(s.Jobs()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("forgesim: waiting for jobs: %w", ctx.Err())
		}
	}
}

// eligible says whether runner rn may take job j: same entity, and every
// label the job asks for is one of the runner's ("self-hosted" is implied).
func eligible(rn *runner, j *job) bool {
	owner, _, _ := strings.Cut(j.Repo, "/")
	switch rn.scope.Kind {
	case "repo":
		if !strings.EqualFold(rn.scope.Name, j.Repo) {
			return false
		}
	case "org":
		if !strings.EqualFold(rn.scope.Name, j.Org) && !strings.EqualFold(rn.scope.Name, owner) {
			return false
		}
	}
	for _, want := range j.Labels {
		if strings.EqualFold(want, "self-hosted") {
			continue
		}
		if !slices.ContainsFunc(rn.labels, func(have string) bool { return strings.EqualFold(have, want) }) {
			return false
		}
	}
	return true
}

// eligibleLocked is eligible under the sim's flavor: Gitea and Forgejo give a
// job only to a runner whose registered labels contain every runs-on label
// exactly (case-sensitive, nothing implied). Caller holds s.mu.
func (s *Sim) eligibleLocked(rn *runner, j *job) bool {
	if s.gt == nil {
		return eligible(rn, j)
	}
	probe := *rn
	probe.labels = nil
	if !eligible(&probe, &job{Repo: j.Repo, Org: j.Org}) {
		return false // scope
	}
	for _, want := range j.Labels {
		if !slices.Contains(rn.labels, want) {
			return false
		}
	}
	return true
}

// assignLocked gives an idle connected runner the oldest queued job it can
// take. A runner that already holds a job gets the same job again, so a
// lost poll answer does not strand it. Caller holds s.mu.
func (s *Sim) assignLocked(rn *runner) *job {
	if rn.jobID != 0 {
		for _, j := range s.jobs {
			if j.ID == rn.jobID && j.Status == StatusInProgress {
				return j
			}
		}
		return nil
	}
	for _, j := range s.jobs {
		if j.Status != StatusQueued || !s.eligibleLocked(rn, j) || !s.scaleSetAllowsLocked(rn, j) {
			continue
		}
		j.Status, j.StartedAt = StatusInProgress, time.Now().UTC()
		j.RunnerID, j.RunnerName = rn.id, rn.name
		j.RunnerGroupID, j.RunnerGroupName = rn.groupID, defaultRunnerGroup
		if rn.groupID != 1 {
			j.RunnerGroupName = "group-" + strconv.FormatInt(rn.groupID, 10)
		}
		rn.busy, rn.jobID = true, j.ID
		s.enqueueHookLocked("in_progress", j)
		s.scaleSetStartedLocked(j, rn)
		s.notifyLocked()
		return j
	}
	return nil
}

// completeLocked finishes rn's job and, as GitHub does for ephemeral
// runners, removes the registration. Caller holds s.mu.
func (s *Sim) completeLocked(rn *runner, jobID int64, conclusion string) error {
	if rn.jobID == 0 || rn.jobID != jobID {
		return fmt.Errorf("runner %d is not running job %d", rn.id, jobID)
	}
	for _, j := range s.jobs {
		if j.ID == jobID && j.Status == StatusInProgress {
			j.Status, j.Conclusion, j.CompletedAt = StatusCompleted, conclusion, time.Now().UTC()
			s.enqueueHookLocked("completed", j)
			s.scaleSetCompletedLocked(j, rn)
			s.releaseWaitingLocked(j)
		}
	}
	rn.busy = false
	s.removeRunnerLocked(rn)
	return nil
}

func (s *Sim) repoJobsLocked(r *http.Request) []*job {
	repo := r.PathValue("owner") + "/" + r.PathValue("repo")
	var out []*job
	for _, j := range s.jobs {
		if strings.EqualFold(j.Repo, repo) {
			out = append(out, j)
		}
	}
	return out
}

func (s *Sim) handleListRuns(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	s.mu.Lock()
	api := s.base
	var runs []map[string]any
	jobs := s.repoJobsLocked(r)
	// GitHub lists the newest runs first.
	for i := len(jobs) - 1; i >= 0; i-- {
		if status == "" || jobs[i].Status == status || status == jobs[i].Conclusion {
			runs = append(runs, runJSON(api, jobs[i]))
		}
	}
	s.mu.Unlock()
	lo, hi, ok := paginate(w, r, api, len(runs))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(runs),
		"workflow_runs": append([]map[string]any{}, runs[lo:hi]...)})
}

func (s *Sim) handleRunJobs(w http.ResponseWriter, r *http.Request) {
	runID, _ := strconv.ParseInt(r.PathValue("run_id"), 10, 64)
	s.mu.Lock()
	api := s.base
	var list []map[string]any
	for _, j := range s.repoJobsLocked(r) {
		if j.RunID == runID {
			list = append(list, jobJSON(api, j))
		}
	}
	s.mu.Unlock()
	if len(list) == 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	lo, hi, ok := paginate(w, r, api, len(list))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "jobs": list[lo:hi]})
}

func (s *Sim) handleGetJob(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseInt(r.PathValue("job_id"), 10, 64)
	s.mu.Lock()
	var body map[string]any
	for _, j := range s.repoJobsLocked(r) {
		if j.ID == id {
			body = jobJSON(s.base, j)
		}
	}
	s.mu.Unlock()
	if body == nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, body)
}
