package gitea

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

var _ forge.ConditionalJobLister = (*Client)(nil)

// ListQueuedJobsIf is the poller's listing. Neither forge answers
// conditional requests, so ETags are ignored; what it adds over
// ListQueuedJobs is an exact call count and, on Gitea, the running jobs with
// their runner names (GET …/actions/jobs?status=in_progress), so that a
// poller reports a job's start and end as soon as it sees them instead of
// leaving the spent machine to the next reconcile. Forgejo's job search
// needs q.Labels and names no runner, so it reports queued jobs only.
func (c *Client) ListQueuedJobsIf(ctx context.Context, ent core.Entity, q forge.QueuedQuery) (forge.QueuedListing, error) {
	var lst forge.QueuedListing
	if c.fl.JobSearchNeedsLabels {
		jobs, err := c.ListQueuedJobsFor(ctx, ent, q.Labels)
		if !errors.Is(err, errors.ErrUnsupported) {
			lst.Calls = 1
		}
		lst.Jobs, lst.Complete = jobs, err == nil
		return lst, err
	}
	scope, err := scopePath(ent)
	if err != nil {
		return lst, err
	}
	if !c.has(c.fl.JobsAPI) {
		return lst, c.unsupported("queued-job listing", c.fl.JobsAPI)
	}
	budget := q.MaxCalls
	call := func(status string, page int) ([]apiJob, int, error) {
		var resp struct {
			Jobs       []apiJob `json:"jobs"`
			TotalCount int      `json:"total_count"`
		}
		qs := url.Values{"status": {status}, "page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(pageLimit)}}
		lst.Calls++
		if err := c.do(ctx, http.MethodGet, scope+"/actions/jobs", qs, &resp); err != nil {
			return nil, 0, fmt.Errorf("list %s jobs of %s: %w", status, scope, err)
		}
		return resp.Jobs, resp.TotalCount, nil
	}
	for _, status := range []string{"queued", "in_progress"} {
		seen := 0
		for page := 1; ; page++ {
			if budget > 0 && lst.Calls >= budget {
				return lst, nil // incomplete: the poller must not retire jobs from it
			}
			jobs, total, err := call(status, page)
			if err != nil {
				return lst, err
			}
			seen += len(jobs)
			for _, j := range jobs {
				job := j.toCore(ent)
				switch {
				case status == "queued" && j.Status == "queued": // not "waiting": see ListQueuedJobsFor
					lst.Jobs = append(lst.Jobs, job)
				case status == "in_progress" && j.Status == "in_progress":
					job.State, job.RunnerName, job.StartedAt = core.JobInProgress, j.RunnerName, knownTime(j.StartedAt)
					lst.InProgress = append(lst.InProgress, job)
				}
			}
			if len(jobs) < pageLimit || seen >= total {
				break
			}
		}
	}
	lst.Complete = true
	return lst, nil
}

func (j apiJob) toCore(ent core.Entity) core.Job {
	job := core.Job{ID: j.ID, RunID: j.RunID, RunAttempt: j.RunAttempt, Name: j.Name,
		Labels: append([]string(nil), j.Labels...), State: core.JobQueued, QueuedAt: knownTime(j.CreatedAt)}
	if ent.Kind == core.EntityRepository {
		job.Repository = ent.Name
	}
	return job
}
