package external_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

// wantEnv is the exact set of variable names each call must get: the
// protocol's (per the version table), configured prefixes, proxies. Nothing
// else of the manager's environment.
func wantEnv(version, command string) []string {
	names := []string{"GARM_COMMAND", "GARM_CONTROLLER_ID", "GARM_PROVIDER_CONFIG_FILE", "GARM_INTERFACE_VERSION",
		"OS_CLOUD", "OS_PASSWORD", "https_proxy", "no_proxy"}
	if version == external.V011 || command == external.CmdCreate || command == external.CmdList {
		names = append(names, "GARM_POOL_ID")
	}
	if version == external.V011 {
		names = append(names, "GARM_POOL_EXTRASPECS")
	}
	switch command {
	case external.CmdGet, external.CmdDelete, external.CmdStart, external.CmdStop:
		names = append(names, "GARM_INSTANCE_ID")
	case external.CmdValidatePool:
		names = append(names, "GARM_POOL_IMAGE", "GARM_POOL_FLAVOR")
	}
	sort.Strings(names)
	return names
}

func envNames(c map[string]string) []string {
	var out []string
	for k := range c {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestEveryCommandInBothVersions(t *testing.T) {
	for _, version := range external.Versions() {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t, version, 30*time.Second)
			ctx := context.Background()
			m, err := e.p.Create(ctx, spec("m-1"))
			if err != nil {
				t.Fatal(err)
			}
			if m.Name != "m-1" || !strings.HasPrefix(m.ProviderID, "ref-") || m.Status != provider.StatusRunning || m.PoolID != "pool-a" {
				t.Fatalf("create = %+v", m)
			}
			create := e.lastCall(external.CmdCreate)
			checkBootstrap(t, create.Stdin)

			// A second create of the same name: the executable answers 31, the
			// adapter returns the existing machine.
			again, err := e.p.Create(ctx, spec("m-1"))
			if err != nil || again.ProviderID != m.ProviderID {
				t.Fatalf("idempotent create = %+v, %v (first %+v)", again, err, m)
			}
			got, err := e.p.Get(ctx, "m-1")
			if err != nil || got.ProviderID != m.ProviderID || got.Status != provider.StatusRunning {
				t.Fatalf("get = %+v, %v", got, err)
			}
			if id := e.lastCall(external.CmdGet).Env["GARM_INSTANCE_ID"]; id != m.ProviderID {
				t.Errorf("GARM_INSTANCE_ID = %q, want the provider_id %q", id, m.ProviderID)
			}
			ms, err := e.p.List(ctx)
			if err != nil || len(ms) != 1 || ms[0].Name != "m-1" || ms[0].PoolID != "pool-a" {
				t.Fatalf("list = %+v, %v", ms, err)
			}
			if err := e.p.Stop(ctx, "m-1"); err != nil {
				t.Fatal(err)
			}
			if got, _ := e.p.Get(ctx, "m-1"); got.Status != provider.StatusStopped {
				t.Fatalf("after stop: %+v", got)
			}
			if err := e.p.Start(ctx, "m-1"); err != nil {
				t.Fatal(err)
			}
			if got, _ := e.p.Get(ctx, "m-1"); got.Status != provider.StatusRunning {
				t.Fatalf("after start: %+v", got)
			}
			pid := e.machinePID("m-1")
			if err := e.p.Delete(ctx, "m-1"); err != nil {
				t.Fatal(err)
			}
			if !gone(pid) {
				t.Error("machine process survived delete")
			}
			if err := e.p.Delete(ctx, "m-1"); err != nil {
				t.Fatalf("delete of a missing machine (exit 30): %v", err)
			}
			if _, err := e.p.Get(ctx, "m-1"); !errors.Is(err, provider.ErrNotFound) {
				t.Fatalf("get of a missing machine: %v, want ErrNotFound", err)
			}

			for _, n := range []string{"a", "b"} {
				if _, err := e.p.Create(ctx, spec(n)); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.p.RemoveAll(ctx, "pool-a"); err != nil {
				t.Fatal(err)
			}
			if ms, err := e.p.List(ctx); err != nil || len(ms) != 0 {
				t.Fatalf("after RemoveAll: %+v, %v", ms, err)
			}

			// Every call got exactly the variables the version defines.
			for _, c := range e.calls() {
				if got, want := envNames(c.Env), wantEnv(version, c.Command); !slices.Equal(got, want) {
					t.Errorf("%s env = %v, want %v", c.Command, got, want)
				}
				if c.Env["GARM_COMMAND"] != c.Command || c.Env["GARM_INTERFACE_VERSION"] != version ||
					c.Env["GARM_CONTROLLER_ID"] != "ctrl-1" || c.Env["GARM_PROVIDER_CONFIG_FILE"] != e.cfgPath {
					t.Errorf("%s env = %v", c.Command, c.Env)
				}
				if es, ok := c.Env["GARM_POOL_EXTRASPECS"]; ok {
					b, err := base64.StdEncoding.DecodeString(es)
					want := `{"disk_gb":20}`
					if c.Env["GARM_POOL_ID"] == "" {
						want = `{}` // a machine the adapter no longer knows: no pool
					}
					if err != nil || string(b) != want {
						t.Errorf("%s GARM_POOL_EXTRASPECS = %q (%v)", c.Command, b, err)
					}
				}
			}
			checkV011Calls(t, e, version)
		})
	}
}

// checkBootstrap checks the CreateInstance input beyond what the reference
// provider already enforces (exact keys, unknown keys rejected).
func checkBootstrap(t *testing.T, stdin string) {
	t.Helper()
	var bi map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdin), &bi); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"callback-url", "metadata-url", "instance-token", "ssh-keys", "github-runner-group", "ca-cert-bundle"} {
		if _, ok := bi[k]; !ok {
			t.Errorf("BootstrapInstance lacks %q", k)
		}
	}
	var b external.BootstrapInstance
	_ = json.Unmarshal([]byte(stdin), &b)
	if b.InstanceToken != "tok-m-1" || b.Arch != "amd64" || b.OSType != "linux" || b.PoolID != "pool-a" || !b.JITConfigEnabled ||
		len(b.Tools) != 1 || b.Tools[0].Architecture != "x64" || b.Tools[0].DownloadURL != "http://127.0.0.1:9/api/v1/metadata/runner-tools/" {
		t.Errorf("bootstrap = %+v", b)
	}
	var extra map[string]any
	_ = json.Unmarshal(b.ExtraSpecs, &extra)
	if extra["disk_gb"] != float64(20) {
		t.Errorf("pool extra specs lost: %v", extra)
	}
	script, err := base64.StdEncoding.DecodeString(extra["runner_install_template"].(string))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"METADATA_URL='http://127.0.0.1:9/api/v1/metadata'", "BEARER_TOKEN='tok-m-1'",
		`"${METADATA_URL}/install-script/"`, `"${CALLBACK_URL}/status"`} {
		if !strings.Contains(string(script), want) {
			t.Errorf("runner_install_template lacks %s", want)
		}
	}
	if strings.Contains(string(script), "{{") {
		t.Error("runner_install_template has template markers left")
	}
}

func checkV011Calls(t *testing.T, e *env, version string) {
	ctx := context.Background()
	v, verr := e.p.Version(ctx)
	vs, serr := e.p.SupportedInterfaceVersions(ctx)
	perr := e.p.ValidatePoolInfo(ctx, "pool-a", "ubuntu:24.04", "small", nil)
	bad := e.p.ValidatePoolInfo(ctx, "pool-a", "", "small", nil)
	cs, cerr := e.p.ConfigJSONSchema(ctx)
	es, eerr := e.p.ExtraSpecsJSONSchema(ctx)
	if verr != nil || v != "refprovider v0.0.1" {
		t.Errorf("GetVersion (answered in both versions): %q %v", v, verr)
	}
	if version == external.V010 {
		for _, err := range []error{serr, perr, cerr, eerr} {
			if !errors.Is(err, external.ErrUnsupported) {
				t.Errorf("v0.1.0 ran a v0.1.1 command: %v", err)
			}
		}
		return
	}
	if serr != nil || !slices.Equal(vs, []string{"v0.1.0", "v0.1.1"}) {
		t.Errorf("supported %v %v", vs, serr)
	}
	if perr != nil || bad == nil || !strings.Contains(bad.Error(), "pool image is required") {
		t.Errorf("ValidatePoolInfo: good %v, bad %v", perr, bad)
	}
	if cerr != nil || eerr != nil || !json.Valid(cs) || !json.Valid(es) {
		t.Errorf("schemas: %s %v / %s %v", cs, cerr, es, eerr)
	}
	if c := e.lastCall(external.CmdValidatePool); c.Env["GARM_POOL_IMAGE"] != "" || c.Env["GARM_POOL_FLAVOR"] != "small" {
		t.Errorf("ValidatePoolInfo env = %v", c.Env)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	cases := []external.Options{
		{Executable: refprovider, ControllerID: "c", InterfaceVersion: "v0.2.0"},
		{Executable: "/nonexistent/provider", ControllerID: "c"},
		{Executable: t.TempDir(), ControllerID: "c"},
		{Executable: refprovider},
	}
	for _, o := range cases {
		if _, err := external.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}
