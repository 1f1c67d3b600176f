// Package bootstrap is what runs first on a machine: it fetches the machine's
// single-use runner config from Paddock's metadata endpoint, downloads the
// runner tools (checking their sha256), starts `run.sh --jitconfig …` and
// reports progress through the callback endpoint. The same code runs in a
// process machine and inside a microVM.
package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/machineapi"
)

// Options say where the manager is and who this machine is.
type Options struct {
	MetadataURL string // e.g. http://paddock:8080/api/v1/metadata
	CallbackURL string // e.g. http://paddock:8080/api/v1/callbacks
	Token       string // single-use instance token
	Dir         string // working directory for the runner
	HTTPClient  *http.Client
	Log         io.Writer
	// Patience bounds retries of a manager that is unreachable or answers 5xx.
	Patience time.Duration
	// Phase, if set, is called as the boot passes each of its phases:
	// PhaseConfig (runner config received), PhaseRunner (runner downloaded,
	// about to start) and PhaseOnline (the runner said it listens for jobs). The
	// microVM guest stamps them with its uptime for the boot timing line.
	Phase func(name string)
	// ToolCache holds runner packages unpacked into the machine's image, by
	// the sha256 of the package file; one matching the forge's published
	// sha256 is used instead of a download (see cachedTools).
	ToolCache string
}

// The phases Options.Phase is called with.
const (
	PhaseConfig = "config"
	PhaseRunner = "runner"
	PhaseOnline = "online"
)

// errFatal marks answers that retrying cannot fix (bad token, instance gone).
type errFatal struct{ error }

// Run boots the runner and returns when the runner exits.
func Run(ctx context.Context, o Options) error {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Patience == 0 {
		o.Patience = 2 * time.Minute
	}
	if o.MetadataURL == "" || o.CallbackURL == "" || o.Token == "" {
		return errors.New("bootstrap: metadata URL, callback URL and instance token are required")
	}
	if o.Phase == nil {
		o.Phase = func(string) {}
	}
	logf := func(format string, a ...any) { fmt.Fprintf(o.Log, "bootstrap: "+format+"\n", a...) }
	// The installing report and the config fetch are independent, so they
	// share the round trip instead of paying for two: a booting VM's
	// connections are slow (each one starts a relay on the host).
	// Every later report waits for it, so the manager sees them in order.
	installing := make(chan error, 1)
	go func() { installing <- report(ctx, o, "installing", "") }()
	installed := sync.OnceValue(func() error { return <-installing })
	fail := func(cause error) error {
		_ = installed()
		return failed(ctx, o, cause)
	}
	var cfg machineapi.RunnerConfig
	if err := o.call(ctx, http.MethodGet, strings.TrimRight(o.MetadataURL, "/")+"/runner", nil, &cfg); err != nil {
		return fail(fmt.Errorf("fetch runner config: %w", err))
	}
	o.Phase(PhaseConfig)
	logf("runner %s, tools %s", cfg.Name, cfg.Tool.Filename)
	runDir := filepath.Join(o.Dir, "runner")
	cached, err := cachedTools(o.ToolCache, cfg.Tool.SHA256, runDir)
	if err != nil {
		return fail(fmt.Errorf("runner from the image: %w", err))
	}
	if cached {
		logf("runner package %s is in the image (sha256 %s)", cfg.Tool.Filename, cfg.Tool.SHA256)
	} else if err := fetchTools(ctx, o.HTTPClient, cfg.Tool.DownloadURL, cfg.Tool.SHA256, runDir, programName(cfg.Kind)); err != nil {
		return fail(err)
	}
	cmd, err := runnerCommand(ctx, cfg, runDir)
	if err != nil {
		return fail(err)
	}
	cmd.Dir = runDir
	hookDir := filepath.Join(o.Dir, "hooks")
	if cfg.Kind == "" {
		if entry, err := installStartedHook(hookDir, cmd.Env); err != nil {
			logf("job-started hook not installed (the manager will guess which job ran): %v", err)
		} else {
			cmd.Env = append(cmd.Env, entry)
		}
	}
	out := &onlineWatch{w: o.Log, online: func() { o.Phase(PhaseOnline) }}
	cmd.Stdout, cmd.Stderr = out, o.Log
	if err := installed(); err != nil {
		return fmt.Errorf("report installing: %w", err)
	}
	o.Phase(PhaseRunner)
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("start runner: %w", err))
	}
	// From here on the token only serves one "active" report (the hook
	// said which run the runner's job is in) and the one "done" report.
	if err := report(ctx, o, "idle", ""); err != nil {
		logf("report idle: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	var werr error
	if cfg.Kind == "" {
		werr = watchStarted(ctx, o, hookDir, exited)
	} else {
		werr = <-exited
	}
	// The machine is single-use: once its runner has exited, the manager may
	// destroy it at once rather than wait for the forge to say so.
	done := machineapi.StatusReport{Status: "done", Message: exitStatus(cmd.ProcessState, werr)}
	if cfg.Kind == "" {
		done.Ran = readStarted(hookDir)
	}
	if err := send(ctx, o, done); err != nil {
		logf("report done: %v", err)
	}
	if werr != nil {
		return fmt.Errorf("runner exited: %w", werr)
	}
	logf("runner finished")
	return nil
}

// exitStatus describes how the runner ended, for the done report.
func exitStatus(ps *os.ProcessState, err error) string {
	if ps == nil {
		return err.Error()
	}
	return ps.String()
}

func failed(ctx context.Context, o Options, cause error) error {
	if err := report(ctx, o, "failed", cause.Error()); err != nil {
		fmt.Fprintf(o.Log, "bootstrap: report failure: %v\n", err)
	}
	return cause
}

func report(ctx context.Context, o Options, status, msg string) error {
	return send(ctx, o, machineapi.StatusReport{Status: status, Message: msg})
}

func send(ctx context.Context, o Options, rep machineapi.StatusReport) error {
	body, _ := json.Marshal(rep)
	return o.call(ctx, http.MethodPost, strings.TrimRight(o.CallbackURL, "/")+"/status", body, nil)
}

// call does one request with the instance token, retrying transport errors and
// 5xx answers with backoff until Patience runs out.
// errAgain: the manager has no answer yet (204 to a request that wants one,
// as for a warm machine waiting unbound) and wants the request repeated.
var errAgain = errors.New("no answer yet: ask again")

func (o Options) call(ctx context.Context, method, url string, body []byte, out any) error {
	deadline := time.Now().Add(o.Patience)
	wait := 200 * time.Millisecond
	for {
		err := o.once(ctx, method, url, body, out)
		if errors.Is(err, errAgain) {
			// A warm machine waiting unbound for a job: the manager held
			// the request as long as it may; ask again at once, for as long
			// as the manager keeps answering.
			deadline, wait = time.Now().Add(o.Patience), 200*time.Millisecond
			continue
		}
		var fatal errFatal
		if err == nil || errors.As(err, &fatal) || time.Now().After(deadline) {
			return err
		}
		fmt.Fprintf(o.Log, "bootstrap: %v; retrying in %s\n", err, wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func (o Options) once(ctx context.Context, method, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return errFatal{err}
	}
	req.Header.Set("Authorization", "Bearer "+o.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 500 {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(data))
	}
	if resp.StatusCode == http.StatusNoContent && out != nil {
		return errAgain
	}
	if resp.StatusCode >= 300 {
		return errFatal{fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(data))}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return errFatal{fmt.Errorf("%s %s: bad answer: %w", method, url, err)}
		}
	}
	return nil
}

// Main is the machine-side entry point: settings come from the environment
// (PADDOCK_METADATA_URL, PADDOCK_CALLBACK_URL, PADDOCK_INSTANCE_TOKEN).
func Main(ctx context.Context, log io.Writer) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	return Run(ctx, Options{
		MetadataURL: os.Getenv("PADDOCK_METADATA_URL"),
		CallbackURL: os.Getenv("PADDOCK_CALLBACK_URL"),
		Token:       os.Getenv("PADDOCK_INSTANCE_TOKEN"),
		Dir:         dir,
		Log:         log,
	})
}
