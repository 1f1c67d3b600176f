package bootstrap

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/paddock-ci/paddock/internal/machineapi"
)

// Runner programs (machineapi.RunnerConfig.Kind); "" is GitHub's runner.
const (
	kindActRunner     = "act_runner"
	kindForgejoRunner = "forgejo-runner"
)

// programName is the runner binary a config's tools must provide.
func programName(kind string) string {
	switch kind {
	case kindActRunner, kindForgejoRunner:
		return kind
	}
	return "" // GitHub's package is a tarball with run.sh
}

// JITConfigEnv is the variable GitHub's runner reads its --jitconfig from.
const JITConfigEnv = "ACTIONS_RUNNER_INPUT_JITCONFIG"

// runnerCommand prepares the runner for its one job. GitHub: run.sh with
// the JIT config in JITConfigEnv. act_runner: the `.runner` file (per-runner credentials from
// the manager) then `act_runner daemon --once`, which takes one task even
// where the forge could not register the runner as ephemeral.
// forgejo-runner: the same file, then `forgejo-runner one-job --wait`.
func runnerCommand(ctx context.Context, cfg machineapi.RunnerConfig, runDir string) (*exec.Cmd, error) {
	var args []string
	switch cfg.Kind {
	case "":
		// In the environment, not in argv: any local user can read a
		// process's arguments (ps, /proc/PID/cmdline), only its own user its
		// environment. The runner takes ACTIONS_RUNNER_INPUT_JITCONFIG as
		// --jitconfig and removes it from its environment.
		cmd := exec.CommandContext(ctx, filepath.Join(runDir, runScript()))
		cmd.Env = append(runnerEnv(), JITConfigEnv+"="+cfg.JITConfig)
		return cmd, nil
	case kindActRunner:
		args = []string{"daemon", "--once"}
	case kindForgejoRunner:
		args = []string{"one-job", "--wait"}
	default:
		return nil, fmt.Errorf("runner kind %q is not supported by this bootstrap", cfg.Kind)
	}
	raw, err := base64.StdEncoding.DecodeString(cfg.JITConfig)
	if err != nil || !json.Valid(raw) {
		return nil, fmt.Errorf("runner credentials for %s are not base64 JSON", cfg.Kind)
	}
	bin := filepath.Join(runDir, programName(cfg.Kind))
	if cfg.Kind == kindForgejoRunner {
		if err := checkOneJobWait(ctx, bin); err != nil {
			return nil, err
		}
	}
	// 0600: the file holds the runner's own token.
	if err := os.WriteFile(filepath.Join(runDir, ".runner"), raw, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = runnerEnv()
	return cmd, nil
}

// runScript is the GitHub runner's start script: its Windows package
// (.zip) has run.cmd where the Linux and macOS ones have run.sh.
func runScript() string {
	if runtime.GOOS == "windows" {
		return "run.cmd"
	}
	return "run.sh"
}

// runnerEnv is the machine's environment without the instance token: jobs
// inherit the runner's environment, and the token is the manager's to use
// (its done report), not theirs.
func runnerEnv() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PADDOCK_INSTANCE_TOKEN=") })
}
