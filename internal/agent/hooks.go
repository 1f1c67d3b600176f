package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// JobStartedHookEnv names the script GitHub's runner runs before each job
// ("Running scripts before or after a job" in GitHub's runner docs): an
// absolute path to a .sh script (run with bash) or a .ps1 one (PowerShell),
// with the job's GITHUB_* variables in its environment. A hook that fails
// fails the job. The stand-in honours it the same way, so what Paddock's
// bootstrap puts there is exercised by every simulated job.
const JobStartedHookEnv = "ACTIONS_RUNNER_HOOK_JOB_STARTED"

// hookTimeout bounds the hook; GitHub's runner gives hooks the job's own
// timeout, which a stand-in need not wait out.
const hookTimeout = time.Minute

// runStartedHook runs the job-started hook, if one is set, with the
// variables GitHub's runner gives it. It returns an error when the hook
// could not run or failed: the job then fails without running.
func runStartedHook(ctx context.Context, job assignedJob, runnerName string, out io.Writer) error {
	path := strings.TrimSpace(os.Getenv(JobStartedHookEnv))
	if path == "" {
		return nil
	}
	if !filepath.IsAbs(path) {
		return fmt.Errorf("%s must be an absolute path, got %q", JobStartedHookEnv, path)
	}
	var shell []string
	switch strings.ToLower(filepath.Ext(path)) {
	// As GitHub's runner chooses (Runner.Common's GetDefaultShellForScript):
	// .sh with bash, or sh where there is none; .ps1 with pwsh, or
	// powershell. Its .js hooks run on the node it bundles, which the
	// stand-in has not.
	case ".sh":
		shell = []string{firstOnPath("bash", "sh"), "-e", path}
	case ".ps1":
		shell = []string{firstOnPath("pwsh", "powershell"), "-NoProfile", "-File", path}
	default:
		return fmt.Errorf("%s %q: hooks here are .sh or .ps1 scripts", JobStartedHookEnv, path)
	}
	hctx, cancel := context.WithTimeout(ctx, hookTimeout)
	defer cancel()
	cmd := exec.CommandContext(hctx, shell[0], shell[1:]...)
	cmd.Env = append(os.Environ(),
		"GITHUB_ACTIONS=true",
		"GITHUB_RUN_ID="+strconv.FormatInt(job.RunID, 10),
		"GITHUB_RUN_ATTEMPT="+strconv.FormatInt(max(job.RunAttempt, 1), 10),
		"GITHUB_REPOSITORY="+job.Repository,
		"GITHUB_WORKFLOW="+job.Workflow,
		"GITHUB_JOB="+job.Name,
		"RUNNER_NAME="+runnerName,
	)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("job-started hook %s: %w", path, err)
	}
	return nil
}

func firstOnPath(prefer, fallback string) string {
	if _, err := exec.LookPath(prefer); err == nil {
		return prefer
	}
	return fallback
}
