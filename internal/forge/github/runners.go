package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gh "github.com/google/go-github/v89/github"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/forgehttp"
)

const perPage = 100 // GitHub's maximum page size: fewer calls against the rate-limit budget

// JITConfig mints a single-use runner config.
//
// Idempotency: the instance name is the runner name and the controller's
// idempotency key. If Paddock crashes after GitHub minted a config but before
// the runner id was recorded, the retry finds the name taken (409). Failing
// forever would strand the name, so the stale registration is looked up,
// removed if it is not running a job, and the config minted again. A busy
// runner with that name is left alone and reported as an error.
func (c *Client) JITConfig(ctx context.Context, ent core.Entity, req forge.JITRequest) (forge.JITConfig, error) {
	if err := checkEntity(ent); err != nil {
		return forge.JITConfig{}, err
	}
	if req.Name == "" {
		return forge.JITConfig{}, errors.New("jit config: runner name is required")
	}
	if len(req.Labels) == 0 || len(req.Labels) > 100 {
		return forge.JITConfig{}, fmt.Errorf("jit config %q: GitHub needs 1-100 labels, got %d", req.Name, len(req.Labels))
	}
	body := gh.CreateJITConfigRequest{Name: req.Name, RunnerGroupID: req.RunnerGroupID, Labels: req.Labels}
	if body.RunnerGroupID == 0 {
		body.RunnerGroupID = 1
	}
	if req.WorkFolder != "" {
		body.WorkFolder = gh.Ptr(req.WorkFolder)
	}
	cfg, err := c.mintJIT(ctx, ent, body)
	if statusOf(err) != http.StatusConflict {
		return cfg, err
	}
	if err := c.clearStaleRunner(ctx, ent, req.Name); err != nil {
		return forge.JITConfig{}, fmt.Errorf("jit config %q: name taken: %w", req.Name, err)
	}
	return c.mintJIT(ctx, ent, body)
}

func (c *Client) mintJIT(ctx context.Context, ent core.Entity, body gh.CreateJITConfigRequest) (forge.JITConfig, error) {
	// Safe to repeat after a 5xx: GitHub refuses a runner name twice (409,
	// handled by JITConfig), so a retry cannot register a second runner.
	ctx = forgehttp.Idempotent(ctx)
	jit, _, err := call(func() (*gh.JITRunnerConfig, *gh.Response, error) {
		switch ent.Kind {
		case core.EntityRepository:
			return c.gh.Actions.CreateRepoJITConfig(ctx, ent.Owner(), ent.Repo(), body)
		case core.EntityOrganization:
			return c.gh.Actions.CreateOrgJITConfig(ctx, ent.Name, body)
		default:
			return c.gh.Enterprise.CreateJITConfig(ctx, ent.Name, body)
		}
	})
	if err != nil {
		return forge.JITConfig{}, err
	}
	if jit.GetEncodedJITConfig() == "" || jit.GetRunner().GetID() == 0 {
		return forge.JITConfig{}, fmt.Errorf("jit config %q: answer lacks runner id or encoded config", body.Name)
	}
	return forge.JITConfig{RunnerID: jit.GetRunner().GetID(), Encoded: jit.GetEncodedJITConfig()}, nil
}

// clearStaleRunner removes an idle runner registration holding name.
func (c *Client) clearStaleRunner(ctx context.Context, ent core.Entity, name string) error {
	runners, err := c.listRunners(ctx, ent, name)
	if err != nil {
		return err
	}
	for _, r := range runners {
		if r.Name != name {
			continue
		}
		if r.Busy {
			return fmt.Errorf("runner %d is running a job: %w", r.ID, forge.ErrRunnerBusy)
		}
		return c.DeleteRunner(ctx, ent, r.ID)
	}
	return nil // gone meanwhile: minting again is safe
}

// ListRunners lists every runner registered on the entity.
func (c *Client) ListRunners(ctx context.Context, ent core.Entity) ([]forge.Runner, error) {
	if err := checkEntity(ent); err != nil {
		return nil, err
	}
	return c.listRunners(ctx, ent, "")
}

// listRunners pages through runners; name, if set, filters server-side.
func (c *Client) listRunners(ctx context.Context, ent core.Entity, name string) ([]forge.Runner, error) {
	opts := &gh.ListRunnersOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
	if name != "" {
		opts.Name = gh.Ptr(name)
	}
	var out []forge.Runner
	for {
		page, resp, err := call(func() (*gh.Runners, *gh.Response, error) {
			switch ent.Kind {
			case core.EntityRepository:
				return c.gh.Actions.ListRunners(ctx, ent.Owner(), ent.Repo(), opts)
			case core.EntityOrganization:
				return c.gh.Actions.ListOrganizationRunners(ctx, ent.Name, opts)
			default:
				return c.gh.Enterprise.ListRunners(ctx, ent.Name, opts)
			}
		})
		if err != nil {
			return nil, fmt.Errorf("list runners of %s %q: %w", ent.Kind, ent.Name, err)
		}
		for _, r := range page.Runners {
			fr := forge.Runner{ID: r.GetID(), Name: r.GetName(), Status: r.GetStatus(), Busy: r.GetBusy()}
			for _, l := range r.Labels {
				fr.Labels = append(fr.Labels, l.GetName())
			}
			out = append(out, fr)
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}

// DeleteRunner removes a runner registration. GitHub answers 422 while the
// runner runs a job; that becomes forge.ErrRunnerBusy so callers can wait.
func (c *Client) DeleteRunner(ctx context.Context, ent core.Entity, runnerID int64) error {
	if err := checkEntity(ent); err != nil {
		return err
	}
	_, _, err := call(func() (struct{}, *gh.Response, error) {
		var resp *gh.Response
		var err error
		switch ent.Kind {
		case core.EntityRepository:
			resp, err = c.gh.Actions.RemoveRunner(ctx, ent.Owner(), ent.Repo(), runnerID)
		case core.EntityOrganization:
			resp, err = c.gh.Actions.RemoveOrganizationRunner(ctx, ent.Name, runnerID)
		default:
			resp, err = c.gh.Enterprise.RemoveRunner(ctx, ent.Name, runnerID)
		}
		return struct{}{}, resp, err
	})
	switch {
	case err == nil, errors.Is(err, forge.ErrNotFound):
		return nil
	case statusOf(err) == http.StatusUnprocessableEntity && strings.Contains(strings.ToLower(messageOf(err)), "running a job"):
		return fmt.Errorf("delete runner %d: %w", runnerID, forge.ErrRunnerBusy)
	}
	return fmt.Errorf("delete runner %d: %w", runnerID, err)
}

// RunnerDownloads lists the runner packages the forge offers.
func (c *Client) RunnerDownloads(ctx context.Context, ent core.Entity) ([]forge.RunnerTool, error) {
	if err := checkEntity(ent); err != nil {
		return nil, err
	}
	tools, _, err := call(func() ([]*gh.RunnerApplicationDownload, *gh.Response, error) {
		switch ent.Kind {
		case core.EntityRepository:
			return c.gh.Actions.ListRunnerApplicationDownloads(ctx, ent.Owner(), ent.Repo())
		case core.EntityOrganization:
			return c.gh.Actions.ListOrganizationRunnerApplicationDownloads(ctx, ent.Name)
		default:
			return c.gh.Enterprise.ListRunnerApplicationDownloads(ctx, ent.Name)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("runner downloads of %s %q: %w", ent.Kind, ent.Name, err)
	}
	out := make([]forge.RunnerTool, 0, len(tools))
	for _, t := range tools {
		out = append(out, forge.RunnerTool{OS: t.GetOS(), Architecture: t.GetArchitecture(),
			DownloadURL: t.GetDownloadURL(), Filename: t.GetFilename(), SHA256: t.GetSHA256Checksum()})
	}
	return out, nil
}
