package controller

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/store"
)

func (c *Controller) keepsDoneRunners(ctx context.Context, inst core.Instance) bool {
	client, _, err := c.forgeFor(ctx, inst)
	if err != nil {
		return false
	}
	// Without ephemeral registration (Forgejo before 15) the forge keeps a
	// runner after its one job: Paddock then removes it itself.
	return !client.Capabilities().EphemeralRunners
}

// machineUp reports whether a machine of an instance in state st may fetch
// its runner config. A machine can call back before its provider's Create
// has returned (providers that wait for the machine to boot do): the token,
// which only the provider was given, is the proof the machine is Paddock's.
func machineUp(st core.InstanceState) bool {
	switch st {
	case core.InstancePendingCreate, core.InstanceCreating, core.InstanceRunning:
		return true
	}
	return false
}

// giveBackTimeout bounds the store write that returns a token after a failed
// mint; it runs detached from the machine's request.
const giveBackTimeout = 10 * time.Second

// RunnerConfigFor mints the machine's single-use runner config. The token is
// marked used before the forge is asked (intent first); a failed mint gives it
// back so the machine can retry.
func (c *Controller) RunnerConfigFor(ctx context.Context, token string) (machineapi.RunnerConfig, error) {
	inst, err := c.instanceByToken(ctx, token)
	if err != nil {
		return machineapi.RunnerConfig{}, err
	}
	if waitsUnbound(inst) && !inst.TokenUsed && machineUp(inst.State) {
		if inst, err = c.awaitBinding(ctx, inst); err != nil {
			return machineapi.RunnerConfig{}, err
		}
	}
	marked, err := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
		switch {
		case i.TokenUsed:
			return machineapi.ErrTokenUsed
		case !machineUp(i.State):
			return machineapi.ErrInstanceGone
		}
		i.TokenUsed = true
		i.MintAttempts++
		return nil
	})
	if err != nil {
		return machineapi.RunnerConfig{}, err
	}
	cfg, runnerID, err := c.mint(ctx, inst, marked.MintAttempts == 1)
	// The give-back must outlive the request: a machine that gave up on a
	// slow forge cancels ctx, and a give-back on that ctx would fail and
	// leave the token spent, so the machine's retry would be refused.
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), giveBackTimeout)
	defer cancel()
	if err == nil && ctx.Err() != nil {
		// Minted, but the machine stopped waiting and will never see this
		// config: drop the registration so its retry mints afresh.
		if client, ent, ferr := c.forgeFor(gctx, inst); ferr == nil {
			_ = client.DeleteRunner(gctx, ent, runnerID)
		}
		err = fmt.Errorf("machine stopped waiting for its runner config: %w", ctx.Err())
	}
	if errors.Is(err, forge.ErrNoRunnerTool) {
		return machineapi.RunnerConfig{}, c.noRunnerTool(gctx, inst, err)
	}
	if err != nil {
		if _, uerr := c.o.Store.UpdateInstance(gctx, inst.Name, func(i *core.Instance) error {
			i.TokenUsed = false
			i.Fault = truncate("mint runner config: "+err.Error(), 2000)
			return nil
		}); uerr != nil {
			c.log.Error("release token", "instance", inst.Name, "err", uerr)
		}
		return machineapi.RunnerConfig{}, err
	}
	if _, err := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
		if !machineUp(i.State) {
			return machineapi.ErrInstanceGone
		}
		i.RunnerID = runnerID
		if i.Runner.CanTransition(core.RunnerInstalling) {
			i.Runner = core.RunnerInstalling
		}
		return nil
	}); err != nil {
		// Removed while minting: the fresh registration must not linger.
		if client, ent, ferr := c.forgeFor(gctx, inst); ferr == nil {
			_ = client.DeleteRunner(gctx, ent, runnerID)
		}
		return machineapi.RunnerConfig{}, err
	}
	c.noteBootOK(ctx, inst.PoolID)
	c.Notify()
	return cfg, nil
}

// noRunnerTool ends a machine whose pool's os_type/arch has no runner
// download: no retry of its config fetch can succeed, so the machine is told
// to stop at once and its pool backs off like a pool whose creates fail,
// instead of replacing a machine every bootstrap timeout.
func (c *Controller) noRunnerTool(ctx context.Context, inst core.Instance, cause error) error {
	if _, err := c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
		i.Fault = truncate("mint runner config: "+cause.Error(), 2000)
		if i.State.CanTransition(core.InstancePendingDelete) {
			i.State, i.DeleteReason = core.InstancePendingDelete, core.DeleteBootstrapFailed
		}
		return nil
	}); err != nil {
		c.log.Error("record missing runner download", "instance", inst.Name, "err", err)
	}
	if pool, err := c.o.Store.GetPool(ctx, inst.PoolID); err == nil {
		c.noteBootFailed(pool, cause)
	}
	c.Notify()
	return fmt.Errorf("%w: %v", machineapi.ErrInstanceGone, cause)
}

// mint asks the forge for the runner config; first says no earlier mint was
// started for this instance (so none can have left a registration behind).
func (c *Controller) mint(ctx context.Context, inst core.Instance, first bool) (machineapi.RunnerConfig, int64, error) {
	pool, err := c.o.Store.GetPool(ctx, inst.PoolID)
	if err != nil {
		return machineapi.RunnerConfig{}, 0, err
	}
	client, ent, err := c.forgeFor(ctx, inst)
	if err != nil {
		return machineapi.RunnerConfig{}, 0, err
	}
	cctx, cancel := context.WithTimeout(ctx, c.o.CallTimeout)
	defer cancel()
	tool, err := c.tools.pick(cctx, client, ent, pool.OSType, pool.Arch)
	if err != nil {
		return machineapi.RunnerConfig{}, 0, err
	}
	group, err := client.RunnerGroupID(cctx, ent, pool.RunnerGroup)
	if err != nil {
		return machineapi.RunnerConfig{}, 0, fmt.Errorf("runner group %q: %w", pool.RunnerGroup, err)
	}
	jit, err := client.JITConfig(cctx, ent, forge.JITRequest{Name: inst.Name, Labels: inst.Labels,
		RunnerGroupID: group, WorkFolder: "_work", FirstAttempt: first})
	if err != nil {
		return machineapi.RunnerConfig{}, 0, err
	}
	cfg := machineapi.RunnerConfig{Name: inst.Name, Labels: inst.Labels, JITConfig: jit.Encoded, Tool: machineapi.RunnerTool(tool), WorkFolder: "_work",
		Kind: client.Capabilities().RunnerKind}
	return cfg, jit.RunnerID, nil
}

// ReportRan takes a machine's "active" or "done" callback that names the
// workflow run its runner's job is in (checked by the caller). For a polled
// entity that tells, long before the next listing, that the runner is busy
// and which queued job to hold back: a guess would make a machine for a job
// another runner already took.
func (c *Controller) ReportRan(ctx context.Context, token string, status core.RunnerState, message string, ran *machineapi.RanJob) error {
	inst, err := c.instanceByToken(ctx, token)
	if err != nil {
		return err
	}
	var ref *core.RunRef
	if ran != nil {
		ref = &core.RunRef{RunID: ran.RunID, RunAttempt: ran.RunAttempt, Repository: ran.Repository}
	}
	switch status {
	case core.RunnerDone:
		return c.machineDone(ctx, inst.Name, message, ref)
	case core.RunnerActive:
		if ref == nil {
			return fmt.Errorf("active without the run: %w", machineapi.ErrBadStatus)
		}
		return c.machineActive(ctx, inst.Name, ref)
	}
	return fmt.Errorf("status %q with a run: %w", status, machineapi.ErrBadStatus)
}

// machineActive records that the machine's runner took a job of run ran.
// It is accepted once, while the runner is not known busy: a forge answer
// naming the job is better than the machine's word and wins.
func (c *Controller) machineActive(ctx context.Context, name string, ran *core.RunRef) error {
	_, err := c.o.Store.UpdateInstance(ctx, name, func(i *core.Instance) error {
		switch {
		case i.Ran != nil && *i.Ran == *ran:
			return errSkip // a retry of a report that went through
		case i.Ran != nil, i.Runner == core.RunnerFailed, i.Runner == core.RunnerDone:
			return machineapi.ErrBadToken
		case i.JobID != 0 || !machineUp(i.State) || i.Runner == core.RunnerActive:
			return errSkip // the forge said so first, or the machine is going
		}
		i.Runner, i.Ran, i.RanAt = core.RunnerActive, ran, c.o.Now()
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err != nil {
		return err
	}
	c.Notify()
	return nil
}

// Report takes a machine's status callback. Callbacks are accepted only while
// the runner is being installed; once it is idle the token is dead, except
// for one "active" report naming the run its job is in (ReportRan) and one
// "done" report when the runner process has exited.
func (c *Controller) Report(ctx context.Context, token string, status core.RunnerState, message string) error {
	inst, err := c.instanceByToken(ctx, token)
	if err != nil {
		return err
	}
	switch status {
	case core.RunnerInstalling, core.RunnerIdle, core.RunnerFailed:
	case core.RunnerDone:
		return c.machineDone(ctx, inst.Name, message, nil)
	default:
		return fmt.Errorf("status %q: %w", status, machineapi.ErrBadStatus)
	}
	_, err = c.o.Store.UpdateInstance(ctx, inst.Name, func(i *core.Instance) error {
		if i.Runner != core.RunnerPending && i.Runner != core.RunnerInstalling {
			return machineapi.ErrBadToken
		}
		i.Runner = status
		if status == core.RunnerFailed {
			i.Fault = truncate("bootstrap failed: "+message, 2000)
			if i.State.CanTransition(core.InstancePendingDelete) {
				i.State, i.DeleteReason = core.InstancePendingDelete, core.DeleteBootstrapFailed
			}
		}
		return nil
	})
	if err == nil && status == core.RunnerFailed {
		c.forgetToolsOf(ctx, inst.PoolID)
	}
	if err == nil {
		c.Notify()
	}
	return err
}

// machineDone takes a machine's word that its runner process has exited: the
// single-use machine can take no other job, so its own instance is retired at
// once instead of at the next reconcile (Forgejo's job list does not name the
// runner, so only the machine can say which one finished). Nothing else is
// believed: the job's state still comes from the forge, since a machine (or
// the job running on it, which can read the token) could lie, and lying only
// ends its own machine.
func (c *Controller) machineDone(ctx context.Context, name, message string, ran *core.RunRef) error {
	// Until the hold is noted, no decision may see the machine gone without
	// it, or it would plan a machine for the job the runner most likely ran.
	c.spentMu.Lock()
	defer c.spentMu.Unlock()
	inst, err := c.o.Store.UpdateInstance(ctx, name, func(i *core.Instance) error {
		switch {
		case i.Runner == core.RunnerFailed:
			return machineapi.ErrBadToken
		case i.Runner == core.RunnerDone, !machineUp(i.State):
			// The forge's completed event came first, or the instance is
			// already being removed (which is what ended the runner).
			return errSkip
		}
		i.Runner = core.RunnerDone
		if message != "" && message != "exit status 0" {
			i.Fault = truncate("runner exited: "+message, 2000)
		}
		i.State, i.DeleteReason, i.Attempts = core.InstancePendingDelete, core.DeleteRunnerExited, 0
		i.NextAttemptAt = time.Time{}
		return nil
	})
	if errors.Is(err, errSkip) {
		return nil
	}
	if err == nil {
		c.noteSpent(ctx, inst, c.o.Now(), ran)
		c.Notify()
	}
	return err
}

// InstanceForToken returns the instance a token belongs to while its runner
// is being installed (the only time a machine's token is accepted). It does
// not spend the token.
func (c *Controller) InstanceForToken(ctx context.Context, token string) (core.Instance, error) {
	inst, err := c.instanceByToken(ctx, token)
	if err != nil {
		return core.Instance{}, err
	}
	if inst.Runner != core.RunnerPending && inst.Runner != core.RunnerInstalling {
		return core.Instance{}, machineapi.ErrBadToken
	}
	return inst, nil
}

// instanceByToken finds the instance a machine's token belongs to; a token
// no instance has is machineapi.ErrBadToken.
func (c *Controller) instanceByToken(ctx context.Context, token string) (core.Instance, error) {
	inst, err := c.o.Store.GetInstanceByTokenHash(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return core.Instance{}, machineapi.ErrBadToken
	}
	return inst, err
}
