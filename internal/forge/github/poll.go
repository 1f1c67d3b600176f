package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
)

var _ forge.ConditionalJobLister = (*Client)(nil)

// runStatuses are the run listings a poll reads; see ListQueuedJobs for why
// in-progress runs are included.
var runStatuses = []string{"queued", "in_progress"}

// errCallBudget stops a listing that reached QueuedQuery.MaxCalls.
var errCallBudget = errors.New("poll call budget reached")

// ListQueuedJobsIf is ListQueuedJobs with conditional requests: the first
// page of each run listing carries If-None-Match, and when GitHub answers 304
// to all of them the poll costs nothing against the rate limit (GitHub does
// not charge 304s made with the same credential). A new queued job always
// changes the first page (a new run, or a different total_count), so a 304
// there means no job appeared or disappeared.
//
// Unlike the other methods it does not retry 5xx answers itself: the poller
// owns backoff, and every request must be counted against its budget.
func (c *Client) ListQueuedJobsIf(ctx context.Context, ent core.Entity, q forge.QueuedQuery) (forge.QueuedListing, error) {
	out := forge.QueuedListing{ETags: map[string]string{}}
	if err := checkEntity(ent); err != nil {
		return out, err
	}
	if ent.Kind != core.EntityRepository {
		return out, fmt.Errorf("list queued jobs of %s %q: polling needs repository entities for now", ent.Kind, ent.Name)
	}
	p := &pollCalls{c: c, max: q.MaxCalls, out: &out, ent: ent.Name}
	firstPages := map[string]runsPage{}
	unchanged := 0
	for _, status := range runStatuses {
		etag := q.ETags[status]
		page, err := p.listRuns(ctx, ent, status, 1, etag)
		if err != nil {
			return p.finish(err)
		}
		if page.notModified {
			unchanged++
			out.ETags[status] = etag
			// The page that validator stands for, if this client decoded it
			// (a strong ETag names exact bytes): then a 304 here costs
			// nothing even when the other listing changed.
			if cached, ok := c.lists.Get(ent.Name, status); ok && cached.ETag == etag {
				firstPages[status] = cached.Value
			}
			continue
		}
		firstPages[status] = page
		out.ETags[status] = page.etag
		c.lists.Keep(ent.Name, map[string]forgehttp.Cached[runsPage]{status: {ETag: page.etag, Value: page}}, false)
	}
	if unchanged == len(runStatuses) {
		out.NotModified, out.Complete = true, true
		return out, nil
	}
	seen := map[int64]bool{}
	for _, status := range runStatuses {
		page, ok := firstPages[status]
		if !ok {
			// Unchanged, but its runs are needed now that the other listing
			// changed and this client holds no copy (it was restarted, or the
			// validator came from elsewhere).
			fresh, err := p.listRuns(ctx, ent, status, 1, "")
			if err != nil {
				return p.finish(err)
			}
			page = fresh
			out.ETags[status] = page.etag
			c.lists.Keep(ent.Name, map[string]forgehttp.Cached[runsPage]{status: {ETag: page.etag, Value: page}}, false)
		}
		for {
			for _, id := range page.runs {
				if seen[id] {
					continue
				}
				seen[id] = true
				if status == "in_progress" && p.claimed(ent, id, q.RunClaim) {
					continue
				}
				if err := p.runJobs(ctx, ent, id); err != nil {
					return p.finish(err)
				}
			}
			if page.next == 0 {
				break
			}
			more, err := p.listRuns(ctx, ent, status, page.next, "")
			if err != nil {
				return p.finish(err)
			}
			page = more
		}
	}
	out.Complete = true
	c.runs.Keep(ent.Name, p.seen, true)
	return out, nil
}

// pollCalls makes one poll's requests, counting each and stopping at max.
type pollCalls struct {
	c    *Client
	max  int
	out  *forge.QueuedListing
	seen map[int64]forgehttp.Cached[runJobs] // runs listed by this poll, for the cache
	ent  string
}

// finish ends a listing early: a spent call budget is not an error (the
// listing is merely incomplete), anything else is.
func (p *pollCalls) finish(err error) (forge.QueuedListing, error) {
	p.out.Complete = false
	p.c.runs.Keep(p.ent, p.seen, false)
	if errors.Is(err, errCallBudget) {
		return *p.out, nil
	}
	return *p.out, err
}

// get performs one GET. It returns a nil response (and no error) for 304.
func (p *pollCalls) get(ctx context.Context, path, etag string, v any) (*gh.Response, error) {
	if p.max > 0 && p.out.Calls >= p.max {
		return nil, errCallBudget
	}
	// Sent once: every request counts against the poller's budget, and the
	// poller owns backoff.
	ctx = forgehttp.NoRetry(ctx)
	req, err := p.c.gh.NewRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := p.c.gh.Do(req, v)
	if resp != nil && resp.StatusCode == http.StatusNotModified {
		p.out.NotModifiedCalls++
		return nil, nil
	}
	// A request that got no answer may still have been charged: count it.
	p.out.Calls++
	if err != nil {
		return nil, mapError(err)
	}
	return resp, nil
}

// runsPage is one page of a run listing, as much of it as a poll uses.
type runsPage struct {
	runs        []int64 // run ids, in the listing's order
	next        int     // the next page, 0 if none
	etag        string
	notModified bool // a 304: the fields above are empty
}

func (p *pollCalls) listRuns(ctx context.Context, ent core.Entity, status string, page int, etag string) (runsPage, error) {
	path := fmt.Sprintf("repos/%s/%s/actions/runs?status=%s&per_page=%d&page=%d",
		url.PathEscape(ent.Owner()), url.PathEscape(ent.Repo()), status, perPage, page)
	var runs gh.WorkflowRuns
	resp, err := p.get(ctx, path, etag, &runs)
	if err != nil {
		return runsPage{}, fmt.Errorf("list %s runs of %q: %w", status, ent.Name, err)
	}
	if resp == nil {
		return runsPage{notModified: true}, nil
	}
	out := runsPage{next: resp.NextPage, etag: resp.Header.Get("ETag")}
	for _, r := range runs.WorkflowRuns {
		out.runs = append(out.runs, r.GetID())
	}
	return out, nil
}

// runJobs lists one run's jobs. The first page is asked for conditionally
// against the run's cached listing, so a run that did not change since the
// last poll costs a free 304 rather than a charged call.
func (p *pollCalls) runJobs(ctx context.Context, ent core.Entity, runID int64) error {
	cached, haveCache := p.c.runs.Get(ent.Name, runID)
	var fresh forgehttp.Cached[runJobs]
	for page := 1; page != 0; {
		path := fmt.Sprintf("repos/%s/%s/actions/runs/%d/jobs?filter=latest&per_page=%d&page=%d",
			url.PathEscape(ent.Owner()), url.PathEscape(ent.Repo()), runID, perPage, page)
		etag := ""
		if page == 1 && haveCache {
			etag = cached.ETag
		}
		var jobs gh.Jobs
		resp, err := p.get(ctx, path, etag, &jobs)
		if errors.Is(err, forge.ErrNotFound) {
			return nil // the run was deleted between the two listings
		}
		if err != nil {
			return fmt.Errorf("list jobs of run %d in %q: %w", runID, ent.Name, err)
		}
		if resp == nil { // 304: the cached listing still holds
			fresh = cached
			break
		}
		if page == 1 && resp.NextPage == 0 {
			fresh.ETag = resp.Header.Get("ETag") // only single-page listings are cached
		}
		for _, j := range jobs.Jobs {
			switch j.GetStatus() {
			case "queued":
				fresh.Value.queued = append(fresh.Value.queued, jobFromAPI(j, ent.Name))
			case "in_progress":
				fresh.Value.running = append(fresh.Value.running, jobFromAPI(j, ent.Name))
			}
		}
		page = resp.NextPage
	}
	p.out.Jobs = append(p.out.Jobs, fresh.Value.queued...)
	p.out.InProgress = append(p.out.InProgress, fresh.Value.running...)
	if p.seen == nil {
		p.seen = map[int64]forgehttp.Cached[runJobs]{}
	}
	p.seen[runID] = fresh
	return nil
}

// claimed reports the one queued job of an in-progress run as running on
// the runner that said it took a job of that run, instead of listing the
// run's jobs again (a charged call: the listing changed when the job
// started). Only a run whose last listing here showed exactly one job, queued,
// qualifies: no other job of it can be queued until that one ends, and a
// runner that ends says so (its claim is then gone). What a machine says is
// only trusted this far: GitHub itself shows the run in progress.
func (p *pollCalls) claimed(ent core.Entity, runID int64, claim func(int64) (string, bool)) bool {
	if claim == nil {
		return false
	}
	cached, ok := p.c.runs.Get(ent.Name, runID)
	if !ok || len(cached.Value.queued) != 1 || len(cached.Value.running) != 0 {
		return false
	}
	runner, ok := claim(runID)
	if !ok {
		return false
	}
	j := cached.Value.queued[0]
	j.State, j.RunnerName = core.JobInProgress, runner
	p.out.InProgress = append(p.out.InProgress, j)
	if p.seen == nil {
		p.seen = map[int64]forgehttp.Cached[runJobs]{}
	}
	p.seen[runID] = cached // kept as listed: the next poll asks the claim again
	return true
}

// runJobs is one run's last jobs listing, as kept in the ETag cache.
type runJobs struct {
	queued, running []core.Job
}

// Capabilities: GitHub lists jobs conditionally, has the runner API, and its
// JIT runners are ephemeral.
func (c *Client) Capabilities() forge.Capabilities {
	return forge.Capabilities{Conditional: c, RunnerAPI: true, EphemeralRunners: true,
		Labels: forge.LabelRulesFor(core.ForgeGitHub)}
}
