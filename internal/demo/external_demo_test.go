package demo_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/demo"
)

// refproviderAs builds the reference provider and links it under name (its
// modes are picked by name, so the demo needs no provider config).
func refproviderAs(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "refprovider")
	if out, err := exec.Command("go", "build", "-o", bin, "../provider/external/testdata/refprovider").CombinedOutput(); err != nil {
		t.Fatalf("build refprovider: %v\n%s", err, out)
	}
	link := filepath.Join(dir, name)
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	return link
}

// runDemo runs `paddock demo --provider external --provider-exec exe` as a
// user would, with no interface version or provider config given.
func runDemo(t *testing.T, exe string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, paddockBinary(t), "demo", "--provider", "external", "--provider-exec", exe,
		"--jobs", "4", "--job-duration", "200ms", "--timeout", "3m", "--log", filepath.Join(dir, "manager.log"))
	out, err := cmd.CombinedOutput()
	log, _ := os.ReadFile(filepath.Join(dir, "manager.log"))
	return string(out) + "\nmanager log:\n" + string(log), err
}

// A provider that speaks only v0.1.0 (as garm-provider-lxd, -incus,
// -openstack, -azure, -aws and -gcp do) runs the demo with no extra flags.
func TestDemoExternalV010OnlyProvider(t *testing.T) {
	out, err := runDemo(t, refproviderAs(t, "garm-provider-v010"))
	if err != nil {
		t.Fatalf("demo with a v0.1.0-only provider: %v\n%s", err, out)
	}
	if !strings.Contains(out, "version=v0.1.0") || strings.Contains(out, "does not implement v0.1.1 ExternalProvider\" err") {
		t.Errorf("interface choice not logged, or calls failed on it:\n%s", out)
	}
}

// The provider behaves as garm-provider-lxd on real LXD: v0.1.0 only, a
// slow boot, and the machine calls the manager (install-script, then the
// single-use /runner config) before CreateInstance returns. This needs the
// controller to accept a machine whose create has not returned yet; without
// that, /runner answers 410 and every machine fails its bootstrap.
func TestDemoExternalLXDLikeProvider(t *testing.T) {
	out, err := runDemo(t, refproviderAs(t, "garm-provider-lxdlike"))
	if err != nil {
		t.Fatalf("demo with an LXD-like provider: %v\n%s", err, out)
	}
}

func TestDemoExternalOptionsChecked(t *testing.T) {
	for _, c := range []struct {
		o    demo.Options
		want string
	}{
		{demo.Options{Jobs: 1, Provider: "process", External: demo.ExternalOptions{Image: "x"}}, "need --provider external"},
		{demo.Options{Jobs: 1, Provider: "external", ProviderExec: "/bin/true", External: demo.ExternalOptions{Listen: "nowhere"}}, "--listen"},
		{demo.Options{Jobs: 1, Provider: "external", ProviderExec: "/bin/true", External: demo.ExternalOptions{PublicURL: "ftp://x"}}, "--public-url"},
		{demo.Options{Jobs: 1, Provider: "external", ProviderExec: "/bin/true", External: demo.ExternalOptions{InterfaceVersion: "v9"}}, "--interface-version"},
	} {
		if _, err := demo.Run(context.Background(), c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.o.External, err, c.want)
		}
	}
}
