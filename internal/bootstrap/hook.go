package bootstrap

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/machineapi"
)

// JobStartedHookEnv names the script GitHub's runner runs as a job starts,
// with the job's GITHUB_* variables in its environment (GitHub's "Running
// scripts before or after a job"). The bootstrap points it at a script that
// writes the job's run down, and reports that run with "done": a manager that
// polls learns which queued job this runner took without another listing, so
// it does not make a machine for a job that already ran. The numeric job id
// is not among the hook's variables; the run is, and narrows the guess to the
// run's jobs (exact for a run of one job).
const JobStartedHookEnv = "ACTIONS_RUNNER_HOOK_JOB_STARTED"

// startedRecord is the file the hook writes, beside the script.
const startedRecord = "job-started"

// installStartedHook writes the hook script into dir and returns the
// environment entry that makes GitHub's runner run it. A hook the machine's
// environment already set is run after it, so an image's own hook keeps
// working.
func installStartedHook(dir string, env []string) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	prev := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, JobStartedHookEnv+"="); ok {
			prev = strings.TrimSpace(v)
		}
	}
	if strings.EqualFold(filepath.Ext(prev), ".js") {
		// GitHub's runner runs a .js hook with the node it bundles; a shell
		// script cannot hand over to it as simply. The image's hook is left
		// alone, and the manager plans without this machine's word.
		return "", fmt.Errorf("the image's own %s is a .js hook (%s): left as it is", JobStartedHookEnv, prev)
	}
	record := filepath.Join(dir, startedRecord)
	if err := os.Remove(record); err != nil && !os.IsNotExist(err) {
		return "", err
	}
	name, body := "job-started.sh", shellHook(record, prev)
	if runtime.GOOS == "windows" {
		name, body = "job-started.ps1", powershellHook(record, prev)
	}
	script := filepath.Join(dir, name)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		return "", err
	}
	return JobStartedHookEnv + "=" + script, nil
}

// shellHook never fails the job (GitHub's runner fails a job whose hook
// fails, and runs .sh hooks with bash -eo pipefail, or sh where there is no
// bash: Runner.Common's GetDefaultShellForScript): the record is best effort.
func shellHook(record, prev string) string {
	var b strings.Builder
	b.WriteString("# Written by Paddock's bootstrap: notes which workflow run this machine's job is in.\n")
	fmt.Fprintf(&b, "printf '%%s %%s %%s\\n' \"${GITHUB_RUN_ID:-0}\" \"${GITHUB_RUN_ATTEMPT:-0}\" \"${GITHUB_REPOSITORY:-}\" > %s 2>/dev/null || true\n",
		shellQuote(record))
	// The image's own hook is run the way GitHub's runner would have run it:
	// .sh with bash (sh without it), .ps1 with pwsh (powershell without it).
	if prev != "" {
		first, second := "bash", "sh"
		args := "-e"
		if strings.EqualFold(filepath.Ext(prev), ".ps1") {
			first, second, args = "pwsh", "powershell", "-NoProfile -File"
		}
		fmt.Fprintf(&b, "if command -v %s >/dev/null 2>&1; then exec %s %s %s; fi\nexec %s %s %s\n",
			first, first, args, shellQuote(prev), second, args, shellQuote(prev))
	}
	return b.String()
}

func powershellHook(record, prev string) string {
	var b strings.Builder
	b.WriteString("# Written by Paddock's bootstrap: notes which workflow run this machine's job is in.\n")
	fmt.Fprintf(&b, "try { Set-Content -LiteralPath %s -Value \"$env:GITHUB_RUN_ID $env:GITHUB_RUN_ATTEMPT $env:GITHUB_REPOSITORY\" } catch { }\n",
		psQuote(record))
	if prev != "" {
		fmt.Fprintf(&b, "& %s\nexit $LASTEXITCODE\n", psQuote(prev))
	}
	return b.String()
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// readStarted reads what the hook wrote, if anything. The job itself could
// have written the file too, so it is parsed strictly and only ever used as
// a hint.
func readStarted(dir string) *machineapi.RanJob {
	f, err := os.Open(filepath.Join(dir, startedRecord))
	if err != nil {
		return nil
	}
	defer f.Close()
	data, _ := io.ReadAll(io.LimitReader(f, 512))
	fields := strings.Fields(string(data))
	if len(fields) < 2 || len(fields) > 3 {
		return nil
	}
	run, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil || run <= 0 {
		return nil
	}
	attempt, err := strconv.ParseInt(fields[1], 10, 64)
	if err != nil || attempt < 0 {
		return nil
	}
	ran := &machineapi.RanJob{RunID: run, RunAttempt: attempt}
	if len(fields) == 3 {
		ran.Repository = fields[2]
	}
	return ran
}

// startedPoll is how often the bootstrap looks for the hook's record while
// the runner runs: a stat, cheap enough to make the report prompt.
const startedPoll = 100 * time.Millisecond

// activePatience bounds the "active" report: it is a hint that only helps
// while the job runs, and must not hold back the done report.
const activePatience = 15 * time.Second

// watchStarted waits for the runner to exit (exited) and meanwhile reports
// "active" with the run once the job-started hook has written it down.
func watchStarted(ctx context.Context, o Options, dir string, exited <-chan error) error {
	tick := time.NewTicker(startedPoll)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return err
		case <-tick.C:
		}
		ran := readStarted(dir)
		if ran == nil {
			continue
		}
		ao := o
		ao.Patience = activePatience
		if err := send(ctx, ao, machineapi.StatusReport{Status: "active", Ran: ran}); err != nil {
			fmt.Fprintf(o.Log, "bootstrap: report active: %v\n", err)
		}
		return <-exited
	}
}
