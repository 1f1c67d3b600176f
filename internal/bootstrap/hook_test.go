package bootstrap

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runnerWithHook stands in for GitHub's runner as far as hooks go: before
// its job it runs $ACTIONS_RUNNER_HOOK_JOB_STARTED with bash -e and the
// job's GITHUB_* variables (GitHub's "Running scripts before or after a
// job"), fails if the hook fails, and then works for a while.
const runnerWithHook = `#!/bin/sh
if [ -n "$ACTIONS_RUNNER_HOOK_JOB_STARTED" ]; then
  GITHUB_RUN_ID=4242 GITHUB_RUN_ATTEMPT=2 GITHUB_REPOSITORY=acme/app GITHUB_JOB=build \
    bash -e "$ACTIONS_RUNNER_HOOK_JOB_STARTED" || exit 3
fi
sleep 0.5
`

// The hook tells the bootstrap which run the job is in; the bootstrap says
// so while the job runs ("active") and again when the runner exits.
func TestStartedHookReportsTheRun(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": runnerWithHook})
	m := newManager(t, tb, sum(tb))
	if err := Run(context.Background(), m.opts(t.TempDir(), "tok")); err != nil {
		t.Fatal(err)
	}
	want := "installing:,idle:,active:[run 4242/2 acme/app],done:exit status 0[run 4242/2 acme/app]"
	if got := strings.Join(m.statuses, ","); got != want {
		t.Fatalf("statuses = %s\nwant       %s", got, want)
	}
}

// A hook the machine's image already set still runs, after Paddock's.
func TestStartedHookChainsTheImagesHook(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": runnerWithHook})
	m := newManager(t, tb, sum(tb))
	own := t.TempDir()
	mark := filepath.Join(own, "it ran")
	script := filepath.Join(own, "image's hook.sh")
	if err := os.WriteFile(script, []byte("echo \"$GITHUB_RUN_ID\" > '"+mark+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(JobStartedHookEnv, script)
	if err := Run(context.Background(), m.opts(t.TempDir(), "tok")); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(mark); err != nil || strings.TrimSpace(string(b)) != "4242" {
		t.Fatalf("the image's own hook did not run with the job's variables: %q, %v", b, err)
	}
	if got := strings.Join(m.statuses, ","); !strings.Contains(got, "active:[run 4242/2 acme/app]") {
		t.Fatalf("statuses = %s", got)
	}
}

// The job can write the record too: what is not a run is not reported, and
// the runner's exit still is.
func TestStartedRecordIsParsedStrictly(t *testing.T) {
	for _, rec := range []string{"", "0 0 ", "-5 1 acme/app", "12 x acme/app", "1 1 a b c", strings.Repeat("9", 600)} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, startedRecord), []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readStarted(dir); got != nil {
			t.Errorf("record %.40q read as %+v, want nothing", rec, got)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, startedRecord), []byte("77 1 acme/app\n"), 0o600)
	if got := readStarted(dir); got == nil || got.RunID != 77 || got.RunAttempt != 1 || got.Repository != "acme/app" {
		t.Fatalf("readStarted = %+v", got)
	}
}

// Paths with quotes in them are quoted for the shell that runs the hook.
func TestShellHookQuotesPaths(t *testing.T) {
	got := shellHook("/tmp/it's/job-started", "/opt/o'hook.sh")
	for _, want := range []string{`'/tmp/it'\''s/job-started'`, `exec bash -e '/opt/o'\''hook.sh'`, `exec sh -e '/opt/o'\''hook.sh'`} {
		if !strings.Contains(got, want) {
			t.Errorf("hook script lacks %s:\n%s", want, got)
		}
	}
}

// An image's .js hook (run by the runner's own node) is left in place.
func TestStartedHookLeavesAJavaScriptHook(t *testing.T) {
	if _, err := installStartedHook(t.TempDir(), []string{JobStartedHookEnv + "=/opt/hooks/started.js"}); err == nil {
		t.Fatal("a .js hook was wrapped")
	}
}

func TestPowerShellHookQuotesPaths(t *testing.T) {
	got := powershellHook(`C:\it's\job-started`, `C:\o'hook.ps1`)
	for _, want := range []string{`-LiteralPath 'C:\it''s\job-started'`, `& 'C:\o''hook.ps1'`} {
		if !strings.Contains(got, want) {
			t.Errorf("hook script lacks %s:\n%s", want, got)
		}
	}
}
