// Package agent is the simulated GitHub Actions runner that forgesim's runner
// package execs (run.sh --jitconfig X). Like an ephemeral GitHub runner it
// uses its JIT config once, takes exactly one job, runs it, reports the
// result and exits.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// ErrRefused means the sim rejected the JIT config (already used, unknown
// or deleted runner): retrying cannot help.
var ErrRefused = errors.New("jit config refused")

// ErrRemoved means the runner registration was deleted while the agent
// waited for a job; GitHub's runner exits in that case too.
var ErrRemoved = errors.New("runner registration removed")

// JobTimeout bounds a job's shell command, like GitHub's default
// timeout-minutes of 360.
var JobTimeout = 6 * time.Hour

const jitConfigEnv = "ACTIONS_RUNNER_INPUT_JITCONFIG"

// ParseArgs reads the arguments run.sh passes: --jitconfig X or --jitconfig=X.
//
// With no arguments, the config is taken from ACTIONS_RUNNER_INPUT_JITCONFIG,
// as GitHub's runner does, and removed from the environment so the job does
// not inherit it.
func ParseArgs(args []string) (string, error) {
	if v := os.Getenv(jitConfigEnv); len(args) == 0 && strings.TrimSpace(v) != "" {
		os.Unsetenv(jitConfigEnv)
		return v, nil
	}
	jit := ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--jitconfig":
			if i+1 >= len(args) || strings.HasPrefix(args[i+1], "--") {
				return "", fmt.Errorf("--jitconfig needs a value")
			}
			i++
			jit = args[i]
		case strings.HasPrefix(a, "--jitconfig="):
			jit = strings.TrimPrefix(a, "--jitconfig=")
		default:
			return "", fmt.Errorf("unknown argument %q (usage: --jitconfig <encoded config>)", a)
		}
	}
	if strings.TrimSpace(jit) == "" {
		return "", fmt.Errorf("missing --jitconfig <encoded config>")
	}
	return jit, nil
}

// Run connects with the JIT config, waits for one job, runs it and reports
// its conclusion. A job that fails is not an error of Run: the failure is
// reported to the forge and Run returns nil.
func Run(ctx context.Context, jitconfig string, out io.Writer) error {
	cfg, err := decodeJIT(jitconfig)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	c := newClient(cfg, jitconfig)
	if err := c.connect(ctx); err != nil {
		return err
	}
	// GitHub's runner says so in these words; the machine bootstrap takes
	// them as "runner online".
	fmt.Fprintf(out, "agent: runner %d %q connected to %s\nagent: Listening for Jobs\n", cfg.RunnerID, cfg.RunnerName, cfg.SimURL)

	job, err := c.waitJob(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "agent: running job %d %q\n", job.ID, job.Name)
	conclusion := conclusionFailure
	if err := runStartedHook(ctx, job, cfg.RunnerName, out); err != nil {
		fmt.Fprintf(out, "agent: job %d: %v\n", job.ID, err)
	} else {
		conclusion = runJob(ctx, job, out)
	}

	// Report even if ctx ended mid-job, so the forge does not keep the job
	// in progress forever; a short detached deadline bounds the attempt.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := c.complete(rctx, job.ID, conclusion); err != nil {
		return fmt.Errorf("reporting job %d: %w", job.ID, err)
	}
	fmt.Fprintf(out, "agent: job %d finished: %s\n", job.ID, conclusion)
	return ctx.Err()
}

// runJob sleeps for the job's duration or runs its command in the current
// directory, and returns the conclusion.
func runJob(ctx context.Context, job assignedJob, out io.Writer) string {
	if job.Command == "" {
		select {
		case <-time.After(time.Duration(job.DurationMS) * time.Millisecond):
			return conclusionSuccess
		case <-ctx.Done():
			return conclusionFailure
		}
	}
	cctx, cancel := context.WithTimeout(ctx, JobTimeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, "sh", "-c", job.Command)
	cmd.Stdout, cmd.Stderr = out, out
	// Don't let a grandchild holding the output pipe keep us past the kill.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(out, "agent: job %d command failed: %v\n", job.ID, err)
		return conclusionFailure
	}
	return conclusionSuccess
}
