package scaleset

import (
	"context"
	"errors"
	"fmt"

	ghss "github.com/actions/scaleset"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
)

// runnerClient is the forge client a scale-set pool's machines use: runners
// are minted and removed through the scale set; everything else (runner
// downloads, listings) goes to the REST client it wraps.
type runnerClient struct {
	forge.Client
	b *binding
}

// JITConfig mints the machine's single-use runner in the scale set. A name
// already taken (a retry after a lost answer) is freed and minted again, so
// the call is idempotent by runner name like the REST one.
func (c *runnerClient) JITConfig(ctx context.Context, _ core.Entity, req forge.JITRequest) (forge.JITConfig, error) {
	client, set, _, err := c.b.resolve(ctx)
	if err != nil {
		return forge.JITConfig{}, err
	}
	setting := &ghss.RunnerScaleSetJitRunnerSetting{Name: req.Name, WorkFolder: req.WorkFolder}
	cfg, err := client.GenerateJitRunnerConfig(ctx, setting, set.ID)
	if errors.Is(err, ghss.RunnerExistsError) {
		old, ferr := client.GetRunnerByName(ctx, req.Name)
		if ferr != nil {
			return forge.JITConfig{}, ferr
		}
		if old != nil {
			if rerr := client.RemoveRunner(ctx, int64(old.ID)); rerr != nil && !errors.Is(rerr, ghss.RunnerNotFoundError) {
				return forge.JITConfig{}, rerr
			}
		}
		cfg, err = client.GenerateJitRunnerConfig(ctx, setting, set.ID)
	}
	if err != nil {
		return forge.JITConfig{}, fmt.Errorf("scale set %q: generate JIT runner config: %w", set.Name, err)
	}
	if cfg == nil || cfg.Runner == nil || cfg.EncodedJITConfig == "" {
		return forge.JITConfig{}, fmt.Errorf("scale set %q: JIT runner config answer lacks the runner or its config", set.Name)
	}
	return forge.JITConfig{RunnerID: int64(cfg.Runner.ID), Encoded: cfg.EncodedJITConfig}, nil
}

// RunnerGroupID is the scale set's group: its runners join it whatever a
// JIT request says.
func (c *runnerClient) RunnerGroupID(ctx context.Context, _ core.Entity, _ string) (int64, error) {
	_, set, _, err := c.b.resolve(ctx)
	if err != nil {
		return 0, err
	}
	return int64(set.RunnerGroupID), nil
}

// DeleteRunner removes a scale-set runner; one already gone is fine, one
// running a job is forge.ErrRunnerBusy (the controller keeps its machine).
func (c *runnerClient) DeleteRunner(ctx context.Context, _ core.Entity, runnerID int64) error {
	client, _, _, err := c.b.resolve(ctx)
	if err != nil {
		return err
	}
	err = client.RemoveRunner(ctx, runnerID)
	switch {
	case err == nil, errors.Is(err, ghss.RunnerNotFoundError):
		return nil
	case errors.Is(err, ghss.JobStillRunningError):
		return forge.ErrRunnerBusy
	}
	return err
}
