package gitea

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

// apiJob is Gitea's ActionWorkflowJob (GitHub's workflow job shape).
type apiJob struct {
	ID          int64     `json:"id"`
	RunID       int64     `json:"run_id"`
	RunAttempt  int64     `json:"run_attempt"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	Conclusion  string    `json:"conclusion"`
	Labels      []string  `json:"labels"`
	RunnerName  string    `json:"runner_name"`
	CreatedAt   time.Time `json:"created_at"`
	StartedAt   time.Time `json:"started_at"`
	CompletedAt time.Time `json:"completed_at"`
}

// forgejoJob is Forgejo's ActionRunJob from its job search.
type forgejoJob struct {
	ID     int64    `json:"id"`
	RepoID int64    `json:"repo_id"`
	Name   string   `json:"name"`
	RunsOn []string `json:"runs_on"`
	TaskID int64    `json:"task_id"`
	Status string   `json:"status"`
}

// ListQueuedJobs finds jobs waiting for a runner. Gitea 1.26+ lists them
// with GET …/actions/jobs?status=queued at every level. Forgejo's job search
// needs the runner labels (see ListQueuedJobsFor); without them, and on
// versions without a job listing, the error wraps errors.ErrUnsupported so a
// caller never mistakes "cannot tell" for "nothing queued".
func (c *Client) ListQueuedJobs(ctx context.Context, ent core.Entity) ([]core.Job, error) {
	if c.fl.JobSearchNeedsLabels {
		return nil, fmt.Errorf("%s's job search matches runs-on against runner labels; use ListQueuedJobsFor: %w", c.fl.Name, errors.ErrUnsupported)
	}
	return c.ListQueuedJobsFor(ctx, ent, nil)
}

// ListQueuedJobsFor is ListQueuedJobs with the labels of the runners that
// would take the jobs (required by Forgejo, ignored by Gitea).
func (c *Client) ListQueuedJobsFor(ctx context.Context, ent core.Entity, labels []string) ([]core.Job, error) {
	scope, err := scopePath(ent)
	if err != nil {
		return nil, err
	}
	if !c.has(c.fl.JobsAPI) {
		return nil, c.unsupported("queued-job listing", c.fl.JobsAPI)
	}
	if c.fl.JobSearchNeedsLabels {
		return c.forgejoJobs(ctx, ent, scope, labels)
	}
	var out []core.Job
	for page := 1; ; page++ {
		var resp struct {
			Jobs       []apiJob `json:"jobs"`
			TotalCount int      `json:"total_count"`
		}
		q := url.Values{"status": {"queued"}, "page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(pageLimit)}}
		if err := c.do(ctx, http.MethodGet, scope+"/actions/jobs", q, &resp); err != nil {
			return nil, fmt.Errorf("list queued jobs of %s: %w", scope, err)
		}
		for _, j := range resp.Jobs {
			// Gitea renders a job blocked on its `needs` as "waiting": it
			// cannot run yet, and a machine made for it would idle (it is
			// listed as "queued" once its dependencies finish).
			if j.Status != "queued" {
				continue
			}
			out = append(out, j.toCore(ent))
		}
		if len(resp.Jobs) < pageLimit || len(out) >= resp.TotalCount {
			return out, nil
		}
	}
}

func (c *Client) forgejoJobs(ctx context.Context, ent core.Entity, scope string, labels []string) ([]core.Job, error) {
	if ent.Kind != core.EntityRepository {
		return nil, fmt.Errorf("%s job search: only repository entities are supported: %w", c.fl.Name, errors.ErrUnsupported)
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("%s job search needs runner labels", c.fl.Name)
	}
	var found []forgejoJob
	q := url.Values{"labels": {strings.Join(labels, ",")}}
	if err := c.do(ctx, http.MethodGet, scope+"/actions/runners/jobs", q, &found); err != nil {
		return nil, fmt.Errorf("search jobs of %s: %w", scope, err)
	}
	var out []core.Job
	for _, j := range found {
		if j.Status != "waiting" {
			continue // running jobs are returned too
		}
		out = append(out, core.Job{ID: j.ID, Name: j.Name, Repository: ent.Name,
			Labels: append([]string(nil), j.RunsOn...), State: core.JobQueued})
	}
	return out, nil
}

// knownTime maps Gitea's "has not happened" timestamp (its TimeStamp 0,
// rendered as 1970-01-01) to the zero time, which Paddock reads as unknown;
// taken at face value it turned into a 0 s (or negative) job wait.
func knownTime(t time.Time) time.Time {
	if t.Unix() <= 0 {
		return time.Time{}
	}
	return t
}
