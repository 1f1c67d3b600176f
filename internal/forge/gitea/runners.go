package gitea

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// pageLimit is Gitea's default maximum page size (MAX_RESPONSE_ITEMS).
const pageLimit = 50

// apiRunner is a runner as either forge reports it. Gitea's ActionRunner has
// labels as objects ({"id","name","type"}) and a busy flag; Forgejo 15's has
// labels as plain strings and only a status. Both decode here.
type apiRunner struct {
	ID     int64       `json:"id"`
	Name   string      `json:"name"`
	Status string      `json:"status"`
	Busy   bool        `json:"busy"`
	Labels []flexLabel `json:"labels"`
}

// flexLabel is a runner label given as "name" or as {"name": "…"}.
type flexLabel string

func (l *flexLabel) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = flexLabel(s)
		return nil
	}
	var o struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("runner label is neither a string nor an object with a name: %s", b)
	}
	*l = flexLabel(o.Name)
	return nil
}

// runnerPage is one page of a runner listing: Gitea's
// {"runners": […], "total_count": n} or Forgejo 15's bare array.
type runnerPage struct {
	Runners    []apiRunner
	TotalCount int
	bare       bool
}

func (p *runnerPage) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		p.bare = true
		return json.Unmarshal(t, &p.Runners)
	}
	var obj struct {
		Runners    []apiRunner `json:"runners"`
		TotalCount int         `json:"total_count"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return err
	}
	p.Runners, p.TotalCount = obj.Runners, obj.TotalCount
	return nil
}

func (r apiRunner) toForge() forge.Runner {
	fr := forge.Runner{ID: r.ID, Name: r.Name, Busy: r.Busy, Status: "online"}
	switch r.Status {
	case "offline":
		fr.Status = "offline"
	case "active", "running", "busy":
		fr.Busy = true // Forgejo reports a runner at work by status alone
	}
	for _, l := range r.Labels {
		fr.Labels = append(fr.Labels, string(l))
	}
	return fr
}

// ListRunners lists the entity's runners (GET …/actions/runners, paged).
// Versions without the runner API get an error wrapping errors.ErrUnsupported
// rather than an empty list, which reconcile would read as "none exist".
func (c *Client) ListRunners(ctx context.Context, ent core.Entity) ([]forge.Runner, error) {
	scope, err := scopePath(ent)
	if err != nil {
		return nil, err
	}
	if c.noRunnerAPI.Load() {
		return nil, c.errNoRunnerAPI()
	}
	if !c.hasRunnerAPI() {
		return nil, c.unsupported("runner listing API", c.fl.RunnerAPI)
	}
	var out []forge.Runner
	for page := 1; ; page++ {
		var resp runnerPage
		q := url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(pageLimit)}}
		err := c.do(ctx, http.MethodGet, scope+"/actions/runners", q, &resp)
		if errors.Is(err, forge.ErrNotFound) {
			err = c.listing404(ctx, scope, err)
		}
		if err != nil {
			return nil, fmt.Errorf("list runners of %s: %w", scope, err)
		}
		for _, r := range resp.Runners {
			out = append(out, r.toForge())
		}
		// A bare array carries no total: a short page is the last one.
		if len(resp.Runners) < pageLimit || (!resp.bare && len(out) >= resp.TotalCount) {
			return out, nil
		}
	}
}

// DeleteRunner removes a registration. Gitea deletes even a busy runner, so
// the runner is looked at first and a busy one reported as forge.ErrRunnerBusy.
//
// Without a runner API (Forgejo before 15) nothing can be deleted and no
// call is made: nil is returned so the spent machine is still destroyed.
// The runner took its one job (`daemon --once`, `one-job`) or is ephemeral,
// so what remains is an offline entry in the forge's runner list. A 404 on
// the runner is checked against the listing: if that 404s too, the endpoint
// is missing, and the client stops using the API rather than reading every
// runner as gone.
func (c *Client) DeleteRunner(ctx context.Context, ent core.Entity, runnerID int64) error {
	scope, err := scopePath(ent)
	if err != nil {
		return err
	}
	if !c.hasRunnerAPI() {
		return nil
	}
	path := scope + "/actions/runners/" + strconv.FormatInt(runnerID, 10)
	var r apiRunner
	switch err := c.do(ctx, http.MethodGet, path, nil, &r); {
	case errors.Is(err, forge.ErrNotFound):
		// Gone, or no such endpoint at all? Only the listing can tell.
		var page runnerPage
		q := url.Values{"limit": {"1"}}
		if lerr := c.do(ctx, http.MethodGet, scope+"/actions/runners", q, &page); errors.Is(lerr, forge.ErrNotFound) {
			_ = c.listing404(ctx, scope, lerr)
		}
		return nil
	case err != nil:
		return fmt.Errorf("delete runner %d: %w", runnerID, err)
	case r.toForge().Busy:
		return fmt.Errorf("delete runner %d: %w", runnerID, forge.ErrRunnerBusy)
	}
	if err := c.do(ctx, http.MethodDelete, path, nil, nil); err != nil && !errors.Is(err, forge.ErrNotFound) {
		return fmt.Errorf("delete runner %d: %w", runnerID, err)
	}
	return nil
}

// listing404 classifies a 404 from scope's runner listing, which answers 404
// both when its endpoint is missing (a proxy, a fork: the version says it
// exists) and when the repository or organization is (or is hidden from the
// token). The scope itself is looked at to tell them apart, so that one
// missing repository does not switch the runner API off for every entity of
// the forge. Only a missing endpoint is remembered, as errors.ErrUnsupported
// from then on; the instance scope always exists (a non-admin token gets 403).
func (c *Client) listing404(ctx context.Context, scope string, listErr error) error {
	if scope != "admin" {
		switch err := c.do(ctx, http.MethodGet, scope, nil, nil); {
		case errors.Is(err, forge.ErrNotFound):
			return fmt.Errorf("%s does not exist or the token cannot see it: %w", scope, err)
		case err != nil:
			return fmt.Errorf("%v, and %s could not be looked at to tell why: %w", listErr, scope, err)
		}
	}
	c.noRunnerAPI.Store(true)
	return c.errNoRunnerAPI()
}

func (c *Client) errNoRunnerAPI() error {
	return fmt.Errorf("%s %s answered 404 on its runner API (a proxy or a build without it?): %w", c.fl.Name, c.rawVersion, errors.ErrUnsupported)
}

// reclaimName removes the scope's idle runners named name before that name is
// registered again. Removing comes before registering so that a failure
// here leaves no new registration behind, and the caller's retry starts
// over. Registration tokens never leave the manager, so a runner of this
// name was either minted by an earlier attempt (whose credentials never
// reached a machine) or belongs to someone else; one at work is left alone
// and reported as forge.ErrRunnerBusy, as GitHub refuses a taken name.
// Reusing the earlier registration is not possible: its runner token is
// only ever in the Register answer that was lost.
func (c *Client) reclaimName(ctx context.Context, ent core.Entity, name string) error {
	rs, err := c.ListRunners(ctx, ent)
	if errors.Is(err, errors.ErrUnsupported) {
		return nil // nothing can be found or removed: see JITConfig
	}
	if err != nil {
		return fmt.Errorf("look for an earlier registration of the name: %w", err)
	}
	for _, r := range rs {
		if r.Name != name {
			continue
		}
		if r.Busy {
			return fmt.Errorf("runner %d already has the name and is running a job: %w", r.ID, forge.ErrRunnerBusy)
		}
		if err := c.DeleteRunner(ctx, ent, r.ID); err != nil {
			return fmt.Errorf("remove the earlier registration %d of the name: %w", r.ID, err)
		}
	}
	return nil
}

// RunnerDownloads returns the configured runner binaries: neither Gitea nor
// Forgejo publishes a download list.
func (c *Client) RunnerDownloads(ctx context.Context, ent core.Entity) ([]forge.RunnerTool, error) {
	if len(c.tools) == 0 {
		return nil, fmt.Errorf("%s forge %q: no runner_downloads configured (URL and sha256 of the %s binary)", c.fl.Name, c.name, c.fl.RunnerKind)
	}
	return append([]forge.RunnerTool(nil), c.tools...), nil
}

// RunnerGroupID: Gitea and Forgejo have no runner groups.
func (c *Client) RunnerGroupID(ctx context.Context, ent core.Entity, name string) (int64, error) {
	if name != "" {
		return 0, fmt.Errorf("runner group %q: %s has no runner groups", name, c.fl.Name)
	}
	return 0, nil
}
