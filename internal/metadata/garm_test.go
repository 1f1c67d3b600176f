package metadata_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/metadata"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// booting behaves like the controller for one instance (token "tok"): the
// token works until the runner reports idle or failed (then only for one
// done report, unless it failed), the config once.
type booting struct {
	mu       sync.Mutex
	tool     machineapi.RunnerTool
	used     bool
	done     bool
	failed   bool
	finished bool
	reports  []string
	unbound  int // answer "not bound yet" this many times first (late binding)
}

func (b *booting) RunnerConfigFor(_ context.Context, tok string) (machineapi.RunnerConfig, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if tok != "tok" || b.done {
		return machineapi.RunnerConfig{}, machineapi.ErrBadToken
	}
	if b.used {
		return machineapi.RunnerConfig{}, machineapi.ErrTokenUsed
	}
	if b.unbound > 0 {
		b.unbound--
		return machineapi.RunnerConfig{}, machineapi.ErrNotBound
	}
	b.used = true
	return machineapi.RunnerConfig{Name: "pdk-1", Labels: []string{"linux"}, JITConfig: "aml0+Y29uZmln/w==", Tool: b.tool}, nil
}

func (b *booting) ReportRan(ctx context.Context, tok string, st core.RunnerState, msg string, ran *machineapi.RanJob) error {
	if err := b.Report(ctx, tok, st, msg); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if ran != nil {
		b.reports = append(b.reports, fmt.Sprintf("ran: %d/%d %s", ran.RunID, ran.RunAttempt, ran.Repository))
	}
	return nil
}

func (b *booting) Report(_ context.Context, tok string, st core.RunnerState, msg string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if tok != "tok" || b.finished || (b.done && st != core.RunnerDone) || (b.failed && st == core.RunnerDone) {
		return machineapi.ErrBadToken
	}
	switch st {
	case core.RunnerIdle:
		b.done = true
	case core.RunnerFailed:
		b.done, b.failed = true, true
	case core.RunnerDone: // once, when the runner has exited
		b.done, b.finished = true, true
	case core.RunnerInstalling:
	default:
		return machineapi.ErrBadStatus
	}
	b.reports = append(b.reports, string(st)+": "+msg)
	return nil
}

type lookupBooting struct{ *booting }

func (l lookupBooting) InstanceForToken(_ context.Context, tok string) (core.Instance, error) {
	if tok != "tok" {
		return core.Instance{}, machineapi.ErrBadToken
	}
	return core.Instance{Name: "pdk-1", Labels: []string{"linux", "x64"}}, nil
}

func (b *booting) log() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.reports...)
}

func newGarmServer(t *testing.T, m metadata.Machines, extra func(*http.ServeMux)) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	(&metadata.Handler{Machines: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}).Routes(mux)
	if extra != nil {
		extra(mux)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, tok string) (int, string) {
	t.Helper()
	code, _, b := testutil.Request(t, http.MethodGet, url, testutil.Bearer(tok), nil)
	return code, string(b)
}

func TestGARMEndpointsAnswerBothPathFormsAndCheckTheToken(t *testing.T) {
	b := &booting{}
	srv := newGarmServer(t, lookupBooting{b}, nil)
	base := srv.URL + "/api/v1/metadata/"
	for _, p := range []string{"install-script", "runner-metadata", "system/service-name", "systemd/unit-file", "system/cert-bundle"} {
		for _, suffix := range []string{"", "/"} {
			if code, body := get(t, base+p+suffix, "tok"); code != 200 {
				t.Errorf("GET %s%s: %d %s", p, suffix, code, body)
			}
			if code, _ := get(t, base+p+suffix, "forged"); code != 401 {
				t.Errorf("GET %s%s with a forged token: %d, want 401", p, suffix, code)
			}
		}
	}
	_, md := get(t, base+"runner-metadata", "tok")
	var rm metadata.RunnerMetadata
	if err := json.Unmarshal([]byte(md), &rm); err != nil || rm.RunnerName != "pdk-1" || !rm.JITEnabled || rm.AgentMode ||
		rm.MetadataAccess.MetadataURL != srv.URL+"/api/v1/metadata" || rm.MetadataAccess.CallbackURL != srv.URL+"/api/v1/callbacks" {
		t.Errorf("runner-metadata = %s (%v)", md, err)
	}
	// GARM's keys (params.InstanceMetadata), spelt as GARM spells them.
	var keys map[string]json.RawMessage
	_ = json.Unmarshal([]byte(md), &keys)
	for _, k := range []string{"metadata_access", "forge_type", "runner_registration_url", "runner_name", "agent_mode", "jit_enabled", "runner_tools"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("runner-metadata lacks GARM's key %q: %s", k, md)
		}
	}
	// GARM's default template downloads the tools without a token first:
	// it must hear why Paddock will not serve it (410), not a bare 401.
	for _, suffix := range []string{"", "/"} {
		if code, body := get(t, base+"runner-tools"+suffix, ""); code != 410 || !strings.Contains(body, "runner_install_template") &&
			!strings.Contains(body, "JIT") {
			t.Errorf("runner-tools%s without a token: %d %s", suffix, code, body)
		}
	}
	if _, name := get(t, base+"system/service-name", "tok"); name != "actions.runner.paddock.pdk-1" {
		t.Errorf("service name = %q", name)
	}
	if _, unit := get(t, base+"systemd/unit-file?runAsUser=ci", "tok"); !strings.Contains(unit, "User=ci\n") {
		t.Errorf("unit file ignores runAsUser:\n%s", unit)
	}
	if code, _ := get(t, base+"systemd/unit-file?runAsUser=ci%0AExecStartPre=/bin/evil", "tok"); code != 400 {
		t.Errorf("unit file accepted a user name with a newline: %d", code)
	}
	if _, cb := get(t, base+"system/cert-bundle", "tok"); cb != "{\"root_certificates\":{}}\n" {
		t.Errorf("cert bundle = %q", cb)
	}
	code, body := get(t, base+"runner-registration-token/", "tok")
	if code != 410 || !strings.Contains(body, "never hands a reusable runner registration token") {
		t.Errorf("registration token: %d %s", code, body)
	}
	if code, _ := get(t, base+"credentials/runner", "tok"); code != 410 {
		t.Errorf("credentials/runner: %d, want 410", code)
	}

	// GARM's callbacks: trailing slash, agent_id in the body.
	post := func(path, body string) int {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := post("/api/v1/callbacks/system-info/", `{"os_name":"Ubuntu","os_version":"24.04","agent_id":17}`); c != 200 {
		t.Errorf("system-info: %d", c)
	}
	if c := post("/api/v1/callbacks/system-info", `not json`); c != 400 {
		t.Errorf("system-info with a bad body: %d", c)
	}
	if c := post("/api/v1/callbacks/status/", `{"status":"idle","message":"runner successfully installed","agent_id":17}`); c != 200 {
		t.Errorf("status/: %d", c)
	}
	// After idle the token is dead for every endpoint.
	if c := post("/api/v1/callbacks/system-info/", `{"os_name":"x"}`); c != 401 {
		t.Errorf("system-info after idle: %d, want 401", c)
	}
	if code, _ := get(t, base+"install-script", "tok"); code != 401 {
		t.Errorf("install-script after idle: %d, want 401", code)
	}
}

func runnerTarball(t *testing.T, runSh string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Name: "run.sh", Mode: 0o755, Size: int64(len(runSh)), Typeflag: tar.TypeReg})
	_, _ = tw.Write([]byte(runSh))
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// runInstallScript fetches the install script as a machine would and runs it
// with bash in dir.
func runInstallScript(t *testing.T, srv *httptest.Server, dir string) (string, error) {
	t.Helper()
	code, script := get(t, srv.URL+"/api/v1/metadata/install-script/", "tok")
	if code != 200 {
		t.Fatalf("install-script: %d %s", code, script)
	}
	if strings.Contains(script, "{{") {
		t.Fatal("install script contains template markers")
	}
	cmd := exec.Command("bash", "-s")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestInstallScriptBootsTheRunnerWithItsSingleUseConfig(t *testing.T) {
	dir := t.TempDir()
	tarball := runnerTarball(t, "#!/bin/sh\ncd \"$(dirname \"$0\")\"\necho \"$@\" > args.txt\n"+
		"echo \"$ACTIONS_RUNNER_INPUT_JITCONFIG\" > env.txt\necho \"$BEARER_TOKEN$PADDOCK_INSTANCE_TOKEN\" > tok.txt\nexit 3\n")
	sum := sha256.Sum256(tarball)
	b := &booting{unbound: 2} // a warm machine waiting for a job asks again
	srv := newGarmServer(t, b, func(mux *http.ServeMux) {
		mux.HandleFunc("GET /dl/runner.tar.gz", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("a") != "1" || r.URL.Query().Get("b") != "2" {
				http.Error(w, "query lost", 400)
				return
			}
			w.Write(tarball)
		})
	})
	// The & in the URL arrives JSON-escaped as \u0026: the script must undo that.
	b.tool = machineapi.RunnerTool{OS: "linux", Architecture: "x64", DownloadURL: srv.URL + "/dl/runner.tar.gz?a=1&b=2",
		Filename: "runner.tar.gz", SHA256: strings.ToUpper(hex.EncodeToString(sum[:]))}
	out, err := runInstallScript(t, srv, dir)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("install script: %v, want the runner's exit status 3\n%s", err, out)
	}
	// The JIT config reaches the runner through its environment, never its
	// argv (readable by every local user); the instance token does not.
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, "actions-runner", f))
		if err != nil {
			t.Fatalf("%s: %v\n%s", f, err, out)
		}
		return strings.TrimSpace(string(b))
	}
	if args, env, tok := read("args.txt"), read("env.txt"), read("tok.txt"); args != "" || env != "aml0+Y29uZmln/w==" || tok != "" {
		t.Fatalf("run.sh got argv %q, ACTIONS_RUNNER_INPUT_JITCONFIG %q, token %q\n%s", args, env, tok, out)
	}
	if strings.Contains(out, "aml0+Y29uZmln") {
		t.Fatalf("JIT config in the script's output:\n%s", out)
	}
	// The runner's exit is reported, so the manager retires the machine at once.
	log := b.log()
	if len(log) < 4 || !strings.HasPrefix(log[0], "installing") || !strings.HasPrefix(log[len(log)-2], "idle") ||
		log[len(log)-1] != "done: exit status 3" {
		t.Fatalf("status reports = %q", log)
	}
}

func TestInstallScriptRefusesATamperedRunnerAndReportsFailure(t *testing.T) {
	dir := t.TempDir()
	tarball := runnerTarball(t, "#!/bin/sh\ntouch ran\n")
	b := &booting{}
	srv := newGarmServer(t, b, func(mux *http.ServeMux) {
		mux.HandleFunc("GET /dl/runner.tar.gz", func(w http.ResponseWriter, r *http.Request) { w.Write(tarball) })
	})
	b.tool = machineapi.RunnerTool{DownloadURL: srv.URL + "/dl/runner.tar.gz", SHA256: strings.Repeat("ab", 32)}
	out, err := runInstallScript(t, srv, dir)
	if err == nil {
		t.Fatalf("install script succeeded with a wrong checksum:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "actions-runner", "ran")); err == nil {
		t.Fatal("a runner with a wrong checksum was run")
	}
	log := b.log()
	if last := log[len(log)-1]; !strings.HasPrefix(last, "failed: runner package sha256") {
		t.Fatalf("last report = %q, want a sha256 failure", last)
	}
}
