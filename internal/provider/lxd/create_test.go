package lxd_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/lxd"
)

// What Create asks LXD for: the token nowhere in the instance's config or
// devices (LXD stores and prints both), ownership keys, size limits capped,
// the flavor as a profile, the NIC and root disk, and proxy devices for the
// loopback manager endpoints.
func TestCreateKeepsTheTokenOutOfTheInstance(t *testing.T) {
	proj := project(t, needLXD(t))
	o := options(proj, "c1")
	o.MaxCPU, o.MaxMemoryMB = 2, 1024
	p, err := lxd.New(o)
	if err != nil {
		t.Fatal(err)
	}
	const token = "tok-must-stay-out-of-lxd-config-7f3a"
	s := provider.Spec{Name: "pt-size", ControllerID: "c1", PoolID: "pool-x", Image: image, Flavor: "default",
		CPU: 8, MemoryMB: 16384, Token: token,
		MetadataURL: "http://127.0.0.1:9/api/v1/metadata", CallbackURL: "http://localhost:9/api/v1/callbacks"}
	ctx := context.Background()
	if _, err := p.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Delete(context.Background(), s.Name) })
	cfg, devs, err := lxd.NewAdmin(socket, proj).Instance(ctx, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal([]any{cfg, devs})
	if strings.Contains(string(raw), token) {
		t.Fatalf("the token is in the instance's config or devices: %s", raw)
	}
	for k, want := range map[string]string{"user.paddock.controller-id": "c1", "user.paddock.pool-id": "pool-x",
		"limits.cpu": "2", "limits.memory": "1024MB"} {
		if cfg[k] != want {
			t.Errorf("config %s = %q; want %q", k, cfg[k], want)
		}
	}
	if ud := cfg["user.user-data"]; !strings.HasPrefix(ud, "#cloud-config") || !strings.Contains(ud, "/var/lib/paddock/bootstrap.sh") {
		t.Errorf("user.user-data = %q; want a cloud-config running the pushed bootstrap", ud)
	}
	if px := devs["paddock-9"]; px["type"] != "proxy" || px["bind"] != "instance" || px["listen"] != "tcp:127.0.0.1:9" || px["connect"] != "tcp:127.0.0.1:9" {
		t.Errorf("proxy device for the manager's port = %v", px)
	}
	if devs["eth0"]["network"] != network || devs["root"]["pool"] != pool {
		t.Errorf("devices = %v; want eth0 on %s and root on %s", devs, network, pool)
	}
}
