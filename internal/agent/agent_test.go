package agent_test

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-github/v89/github"
	"github.com/paddock-ci/paddock/internal/agent"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// When run.sh re-execs this test binary with agentEnv set, it acts as the
// runner command (`paddock agent`), the way the lead wires the real binary.
const agentEnv = "FORGESIM_AGENT_TEST"

func TestMain(m *testing.M) {
	if os.Getenv(agentEnv) == "1" {
		jit, err := agent.ParseArgs(os.Args[1:])
		if err == nil {
			err = agent.Run(context.Background(), jit, os.Stdout)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "agent:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseArgs(t *testing.T) {
	for _, ok := range [][]string{{"--jitconfig", "abc"}, {"--jitconfig=abc"}} {
		if jit, err := agent.ParseArgs(ok); err != nil || jit != "abc" {
			t.Errorf("ParseArgs(%q) = %q, %v", ok, jit, err)
		}
	}
	for _, bad := range [][]string{nil, {"--jitconfig"}, {"--jitconfig="}, {"--url", "x"}, {"abc"}} {
		if _, err := agent.ParseArgs(bad); err == nil {
			t.Errorf("ParseArgs(%q) accepted", bad)
		}
	}
	// As GitHub's runner: the config may come in the environment instead,
	// which is then cleared so the job does not inherit it.
	t.Setenv("ACTIONS_RUNNER_INPUT_JITCONFIG", "from-env")
	if jit, err := agent.ParseArgs(nil); err != nil || jit != "from-env" {
		t.Errorf("ParseArgs from the environment = %q, %v", jit, err)
	}
	if v, ok := os.LookupEnv("ACTIONS_RUNNER_INPUT_JITCONFIG"); ok {
		t.Errorf("ACTIONS_RUNNER_INPUT_JITCONFIG still set to %q", v)
	}
}

type env struct {
	sim *forgesim.Sim
	gh  *github.Client
}

func newEnv(t *testing.T, opts forgesim.Options) env {
	t.Helper()
	opts.Logf = t.Logf
	if opts.LongPoll == 0 {
		opts.LongPoll = time.Second
	}
	s := forgesim.New(opts)
	if err := s.Start(""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	base := s.URL()
	c, err := github.NewClient(github.WithAuthToken("t"), github.WithURLs(&base, &base))
	if err != nil {
		t.Fatal(err)
	}
	return env{s, c}
}

func (e env) mint(t *testing.T, name string, labels ...string) *github.JITRunnerConfig {
	t.Helper()
	cfg, _, err := e.gh.Actions.CreateRepoJITConfig(context.Background(), "o", "r",
		github.CreateJITConfigRequest{Name: name, RunnerGroupID: 1, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestRunsOneCommandJobAndReportsFailure(t *testing.T) {
	e := newEnv(t, forgesim.Options{})
	dir := t.TempDir()
	t.Chdir(dir)
	bad, _ := e.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"},
		Command: "echo hello > out.txt; echo to-log; exit 3"})
	next, _ := e.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}})
	cfg := e.mint(t, "cmd", "linux")

	var out testutil.SyncBuffer
	if err := agent.Run(context.Background(), cfg.GetEncodedJITConfig(), &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	if b, err := os.ReadFile(filepath.Join(dir, "out.txt")); err != nil || string(b) != "hello\n" {
		t.Fatalf("command did not run in the working directory: %q %v", b, err)
	}
	if !strings.Contains(out.String(), "to-log") {
		t.Errorf("command output not in the log: %s", out.String())
	}
	jobs := e.sim.Jobs()
	if jobs[0].ID != bad.ID || jobs[0].Conclusion != forgesim.ConclusionFailure || jobs[0].RunnerName != "cmd" {
		t.Fatalf("first job = %+v", jobs[0])
	}
	// Exactly one job per runner: the next job stays queued, the runner is gone.
	if jobs[1].ID != next.ID || jobs[1].Status != forgesim.StatusQueued || len(e.sim.Runners()) != 0 {
		t.Fatalf("second job %+v, runners %+v", jobs[1], e.sim.Runners())
	}
	// The JIT config is spent.
	err := agent.Run(context.Background(), cfg.GetEncodedJITConfig(), io.Discard)
	if !errors.Is(err, agent.ErrRefused) {
		t.Fatalf("reused JIT config: %v, want ErrRefused", err)
	}
	if err := agent.Run(context.Background(), "not-base64!", io.Discard); !errors.Is(err, agent.ErrRefused) {
		t.Fatalf("garbage JIT config: %v", err)
	}
}

func TestAgentExitsWhenIdleRunnerIsDeleted(t *testing.T) {
	e := newEnv(t, forgesim.Options{LongPoll: 10 * time.Second})
	cfg := e.mint(t, "idle", "linux")
	done := make(chan error, 1)
	go func() { done <- agent.Run(context.Background(), cfg.GetEncodedJITConfig(), io.Discard) }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	testutil.Within(5*time.Second, func() bool { return e.sim.Stats().RunnersConnected > 0 })
	if _, err := e.gh.Actions.RemoveRunner(ctx, "o", "r", cfg.Runner.GetID()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, agent.ErrRemoved) {
			t.Fatalf("Run = %v, want ErrRemoved", err)
		}
	case <-ctx.Done():
		t.Fatal("agent kept running after its runner was deleted")
	}
}

// TestRetriesTransientErrors puts a flaky proxy in front of the sim: the
// first answers to each runner endpoint are 503s, which the agent rides out.
func TestRetriesTransientErrors(t *testing.T) {
	e := newEnv(t, forgesim.Options{})
	var failures atomic.Int32
	seen := sync.Map{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, dup := seen.LoadOrStore(r.URL.Path, true); !dup {
			failures.Add(1)
			http.Error(w, "flaky", http.StatusServiceUnavailable)
			return
		}
		e.sim.Handler().ServeHTTP(w, r)
	}))
	defer proxy.Close()
	e.sim.SetBaseURL(proxy.URL) // JIT configs now point at the proxy
	e.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Duration: 20 * time.Millisecond})
	cfg := e.mint(t, "flaky", "linux")
	if err := agent.Run(context.Background(), cfg.GetEncodedJITConfig(), io.Discard); err != nil {
		t.Fatal(err)
	}
	if failures.Load() != 3 || e.sim.Jobs()[0].Conclusion != forgesim.ConclusionSuccess {
		t.Fatalf("failures %d, job %+v", failures.Load(), e.sim.Jobs()[0])
	}
}

// TestEndToEndThroughRunScript downloads the runner tarball, unpacks it and
// runs ./run.sh --jitconfig X, which execs this test binary as the agent.
func TestEndToEndThroughRunScript(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, forgesim.Options{RunnerCommand: []string{self}})
	job, _ := e.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"self-hosted", "linux"},
		Command: "pwd > where.txt"})
	tools, _, err := e.gh.Actions.ListRunnerApplicationDownloads(context.Background(), "o", "r")
	if err != nil || len(tools) == 0 {
		t.Fatal(tools, err)
	}
	resp, err := http.Get(tools[0].GetDownloadURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	dir := t.TempDir()
	untar(t, resp.Body, dir)
	cfg := e.mint(t, "e2e", "linux")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "./run.sh", "--jitconfig", cfg.GetEncodedJITConfig())
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), agentEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run.sh: %v\n%s", err, out)
	}
	jobs := e.sim.Jobs()
	if jobs[0].ID != job.ID || jobs[0].Conclusion != forgesim.ConclusionSuccess || jobs[0].RunnerName != "e2e" {
		t.Fatalf("job = %+v\n%s", jobs[0], out)
	}
	if where, _ := os.ReadFile(filepath.Join(dir, "where.txt")); strings.TrimSpace(string(where)) != dir {
		t.Fatalf("job ran in %q, want %q", where, dir)
	}
	// A second run of the same config is refused and run.sh exits non-zero.
	cmd = exec.CommandContext(ctx, "./run.sh", "--jitconfig", cfg.GetEncodedJITConfig())
	cmd.Dir, cmd.Env = dir, append(os.Environ(), agentEnv+"=1")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "refused") {
		t.Fatalf("reused config: err %v\n%s", err, out)
	}
}

func untar(t *testing.T, r io.Reader, dir string) {
	t.Helper()
	gz, err := gzip.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(h.Name)), b, os.FileMode(h.Mode)); err != nil {
			t.Fatal(err)
		}
	}
}

// As GitHub's runner does, the stand-in runs ACTIONS_RUNNER_HOOK_JOB_STARTED
// before the job with the job's GITHUB_* variables, and a hook that fails
// fails the job without running it.
func TestJobStartedHook(t *testing.T) {
	e := newEnv(t, forgesim.Options{})
	dir := t.TempDir()
	t.Chdir(dir)
	hook := filepath.Join(dir, "hook.sh")
	os.WriteFile(hook, []byte(`echo "$GITHUB_RUN_ID $GITHUB_RUN_ATTEMPT $GITHUB_REPOSITORY $GITHUB_JOB $RUNNER_NAME" > hook.txt
[ ! -e fail ]
`), 0o644)
	t.Setenv(agent.JobStartedHookEnv, hook)
	job, _ := e.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Name: "build", Labels: []string{"linux"}, Command: "touch ran"})
	if err := agent.Run(context.Background(), e.mint(t, "hooked", "linux").GetEncodedJITConfig(), io.Discard); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d 1 o/r build hooked", job.RunID)
	if b, _ := os.ReadFile(filepath.Join(dir, "hook.txt")); strings.TrimSpace(string(b)) != want {
		t.Fatalf("hook saw %q, want %q", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err != nil || e.sim.Jobs()[0].Conclusion != forgesim.ConclusionSuccess {
		t.Fatalf("job after the hook: %v, %+v", err, e.sim.Jobs()[0])
	}

	os.WriteFile(filepath.Join(dir, "fail"), nil, 0o644)
	os.Remove(filepath.Join(dir, "ran"))
	e.sim.QueueJob(forgesim.JobSpec{Repo: "o/r", Labels: []string{"linux"}, Command: "touch ran"})
	if err := agent.Run(context.Background(), e.mint(t, "hook-fails", "linux").GetEncodedJITConfig(), io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil || e.sim.Jobs()[1].Conclusion != forgesim.ConclusionFailure {
		t.Fatalf("a failing hook must fail the job without running it: %+v", e.sim.Jobs()[1])
	}
}
