package github

import (
	"context"
	"fmt"

	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/core"
)

// ListQueuedJobs finds jobs waiting for a runner in a repository.
//
// Runs in status "in_progress" are scanned as well as "queued" ones: a matrix
// run is in progress as soon as its first job starts while its other jobs
// still wait for runners, and those are exactly the jobs a missed webhook hides.
func (c *Client) ListQueuedJobs(ctx context.Context, ent core.Entity) ([]core.Job, error) {
	if err := checkEntity(ent); err != nil {
		return nil, err
	}
	if ent.Kind != core.EntityRepository {
		// GitHub has no organization- or enterprise-wide job listing; polling
		// would mean enumerating every repository, which the budget cannot afford.
		return nil, fmt.Errorf("list queued jobs of %s %q: polling needs repository entities for now", ent.Kind, ent.Name)
	}
	var out []core.Job
	seen := map[int64]bool{}
	for _, status := range []string{"queued", "in_progress"} {
		runs, err := c.listRuns(ctx, ent, status)
		if err != nil {
			return nil, err
		}
		for _, run := range runs {
			if seen[run.GetID()] {
				continue // a run can move from queued to in_progress between the two listings
			}
			seen[run.GetID()] = true
			jobs, err := c.listRunJobs(ctx, ent, run.GetID())
			if err != nil {
				return nil, err
			}
			for _, j := range jobs {
				if j.GetStatus() == "queued" {
					out = append(out, jobFromAPI(j, ent.Name))
				}
			}
		}
	}
	return out, nil
}

func (c *Client) listRuns(ctx context.Context, ent core.Entity, status string) ([]*gh.WorkflowRun, error) {
	opts := &gh.ListWorkflowRunsOptions{Status: status, ListOptions: gh.ListOptions{PerPage: perPage}}
	var out []*gh.WorkflowRun
	for {
		page, resp, err := call(func() (*gh.WorkflowRuns, *gh.Response, error) {
			return c.gh.Actions.ListRepositoryWorkflowRuns(ctx, ent.Owner(), ent.Repo(), opts)
		})
		if err != nil {
			return nil, fmt.Errorf("list %s runs of %q: %w", status, ent.Name, err)
		}
		out = append(out, page.WorkflowRuns...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

func (c *Client) listRunJobs(ctx context.Context, ent core.Entity, runID int64) ([]*gh.WorkflowJob, error) {
	opts := &gh.ListWorkflowJobsOptions{Filter: "latest", ListOptions: gh.ListOptions{PerPage: perPage}}
	var out []*gh.WorkflowJob
	for {
		page, resp, err := call(func() (*gh.Jobs, *gh.Response, error) {
			return c.gh.Actions.ListWorkflowJobs(ctx, ent.Owner(), ent.Repo(), runID, opts)
		})
		if err != nil {
			return nil, fmt.Errorf("list jobs of run %d in %q: %w", runID, ent.Name, err)
		}
		out = append(out, page.Jobs...)
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// RunnerGroupID resolves a runner group name; "" is the default group (id 1).
func (c *Client) RunnerGroupID(ctx context.Context, ent core.Entity, name string) (int64, error) {
	if err := checkEntity(ent); err != nil {
		return 0, err
	}
	if name == "" {
		return 1, nil
	}
	switch ent.Kind {
	case core.EntityOrganization:
		opts := &gh.ListOrgRunnerGroupOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
		for {
			page, resp, err := call(func() (*gh.RunnerGroups, *gh.Response, error) {
				return c.gh.Actions.ListOrganizationRunnerGroups(ctx, ent.Name, opts)
			})
			if err != nil {
				return 0, fmt.Errorf("runner groups of %q: %w", ent.Name, err)
			}
			for _, g := range page.RunnerGroups {
				if g.GetName() == name {
					return g.GetID(), nil
				}
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
	case core.EntityEnterprise:
		opts := &gh.ListEnterpriseRunnerGroupOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
		for {
			page, resp, err := call(func() (*gh.EnterpriseRunnerGroups, *gh.Response, error) {
				return c.gh.Enterprise.ListRunnerGroups(ctx, ent.Name, opts)
			})
			if err != nil {
				return 0, fmt.Errorf("runner groups of enterprise %q: %w", ent.Name, err)
			}
			for _, g := range page.RunnerGroups {
				if g.GetName() == name {
					return g.GetID(), nil
				}
			}
			if resp.NextPage == 0 {
				break
			}
			opts.Page = resp.NextPage
		}
	default:
		// Repository runners always live in the default group.
		return 0, fmt.Errorf("runner group %q: repository %q has only the default group", name, ent.Name)
	}
	return 0, fmt.Errorf("runner group %q not found on %s %q", name, ent.Kind, ent.Name)
}

// jobFromAPI converts a REST or webhook workflow job.
func jobFromAPI(j *gh.WorkflowJob, repo string) core.Job {
	return core.Job{
		ID:          j.GetID(),
		RunID:       j.GetRunID(),
		RunAttempt:  j.GetRunAttempt(),
		Repository:  repo,
		Name:        j.GetName(),
		Workflow:    j.GetWorkflowName(),
		Labels:      append([]string(nil), j.Labels...),
		State:       jobState(j.GetStatus()),
		Conclusion:  j.GetConclusion(),
		RunnerName:  j.GetRunnerName(),
		QueuedAt:    j.GetCreatedAt().Time,
		StartedAt:   j.GetStartedAt().Time,
		CompletedAt: j.GetCompletedAt().Time,
	}
}

// jobState folds GitHub's statuses into Paddock's three: waiting, pending and
// requested jobs have not started, so they count as queued.
func jobState(status string) core.JobState {
	switch status {
	case "in_progress":
		return core.JobInProgress
	case "completed":
		return core.JobCompleted
	default:
		return core.JobQueued
	}
}
