package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

// providerProcessWrapper is how a manager runs `paddock provider-exec
// process`: provider executables are run with no arguments.
func providerProcessWrapper(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "paddock-provider-process")
	if err := os.WriteFile(path, []byte("#!/bin/sh\nexec "+binary+" provider-exec process\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func buildRefProvider(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "refprovider")
	if out, err := exec.Command("go", "build", "-o", path, "../provider/external/testdata/refprovider").CombinedOutput(); err != nil {
		t.Fatalf("build refprovider: %v\n%s", err, out)
	}
	return path
}

func runDemo(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"demo", "--timeout", "150s"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "result                    PASS") {
		t.Fatalf("demo %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestDemoThroughExternalProviders runs the demo through the GARM protocol:
// once against the reference executable (whose machines run the injected
// runner_install_template with bash, then Paddock's install script), once
// against `paddock provider-exec process` (one binary on both sides).
func TestDemoThroughExternalProviders(t *testing.T) {
	ref := buildRefProvider(t)
	t.Run("reference provider with a stray machine", func(t *testing.T) {
		dir := t.TempDir()
		state := filepath.Join(dir, "ref")
		cfg := filepath.Join(dir, "ref.json")
		// The stray appears in the pool's list and must be removed by
		// reconcile (every 10 s in the demo), so the jobs outlast one interval.
		b, _ := json.Marshal(map[string]string{"state_dir": state, "stray": "intruder"})
		if err := os.WriteFile(cfg, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out := runDemo(t, "--provider", "external", "--provider-exec", ref, "--provider-config", cfg,
			"--jobs", "6", "--job-duration", "12s")
		t.Log(out)
		pidText, err := os.ReadFile(filepath.Join(state, "stray-made"))
		if err != nil {
			t.Fatal("the stray machine was never listed")
		}
		pid, _ := strconv.Atoi(string(pidText))
		if pid <= 0 || running(pid) {
			t.Fatalf("stray machine (pid %d) still runs: reconcile did not remove it", pid)
		}
		calls, _ := os.ReadFile(filepath.Join(state, "calls.jsonl"))
		if !strings.Contains(string(calls), `"GARM_INSTANCE_ID":"ref-stray"`) {
			t.Fatal("no DeleteInstance for the stray machine")
		}
	})
	t.Run("paddock provider-exec process", func(t *testing.T) {
		out := runDemo(t, "--provider", "external", "--provider-exec", providerProcessWrapper(t), "--jobs", "8")
		t.Log(out)
	})
}

// TestProviderExecProcessSpeaksTheProtocol drives `paddock provider-exec
// process` with Paddock's own adapter, every command, both versions.
func TestProviderExecProcessSpeaksTheProtocol(t *testing.T) {
	exe := providerProcessWrapper(t)
	for _, version := range external.Versions() {
		t.Run(version, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "provider.yaml")
			if err := os.WriteFile(cfg, []byte("state_dir: "+filepath.Join(dir, "machines")+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			p, err := external.New(external.Options{Executable: exe, ConfigFile: cfg, InterfaceVersion: version,
				ControllerID: "ctrl", Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			// Nothing answers at port 9: the machine's boot fails, which is fine here.
			spec := provider.Spec{Name: "m-1", PoolID: "pool", OSType: "linux", Arch: "x64",
				MetadataURL: "http://127.0.0.1:9/api/v1/metadata", CallbackURL: "http://127.0.0.1:9/api/v1/callbacks", Token: "tok"}
			m, err := p.Create(ctx, spec)
			if err != nil || m.Name != "m-1" || !strings.HasPrefix(m.ProviderID, "pid-") {
				t.Fatalf("create = %+v, %v", m, err)
			}
			if again, err := p.Create(ctx, spec); err != nil || again.ProviderID != m.ProviderID {
				t.Fatalf("second create = %+v, %v", again, err)
			}
			if got, err := p.Get(ctx, "m-1"); err != nil || got.ProviderID != m.ProviderID {
				t.Fatalf("get = %+v, %v", got, err)
			}
			if ms, err := p.List(ctx); err != nil || len(ms) != 1 || ms[0].Name != "m-1" {
				t.Fatalf("list = %+v, %v", ms, err)
			}
			if err := p.Stop(ctx, "m-1"); err == nil || !strings.Contains(err.Error(), "cannot be stopped") {
				t.Fatalf("stop: %v", err)
			}
			if err := p.Delete(ctx, "m-1"); err != nil {
				t.Fatal(err)
			}
			if err := p.Delete(ctx, "m-1"); err != nil {
				t.Fatalf("delete of a missing machine: %v", err)
			}
			if _, err := p.Get(ctx, "m-1"); !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("get after delete: %v", err)
			}
			if err := p.RemoveAll(ctx, "pool"); err != nil {
				t.Fatal(err)
			}
			if version == external.V011 {
				vs, err := p.SupportedInterfaceVersions(ctx)
				if err != nil || len(vs) != 2 {
					t.Fatalf("supported versions = %v, %v", vs, err)
				}
				if v, err := p.Version(ctx); err != nil || !strings.Contains(v, "paddock") {
					t.Fatalf("version = %q, %v", v, err)
				}
				if s, err := p.ConfigJSONSchema(ctx); err != nil || !strings.Contains(string(s), "state_dir") {
					t.Fatalf("config schema = %s, %v", s, err)
				}
			}
		})
	}
}

// running: the process exists and is not a zombie waiting to be reaped.
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && len(b) > i+2 && b[i+2] != 'Z'
}
