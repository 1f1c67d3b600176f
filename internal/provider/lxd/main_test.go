package lxd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider/lxd"
)

// The tests run against the real LXD daemon that scripts/lxd-setup starts
// and fills (image, bridge, storage pool); they use its names unless the
// same environment variables say otherwise. Each test works in a project of
// its own (pdk-t-<random>), deleted afterwards, so nothing else on a shared
// daemon is seen or touched.
var (
	socket  = envOr("PADDOCK_LXD_SOCKET", lxd.DefaultSocket)
	image   = envOr("PADDOCK_LXD_IMAGE", "paddock-runner-debian12")
	network = envOr("PADDOCK_LXD_NETWORK", "paddockbr0")
	pool    = envOr("PADDOCK_LXD_POOL", "paddock")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// needLXD skips when no LXD daemon with the image is here (a chroot, a
// machine without scripts/lxd-setup), except in CI, where it fails.
func needLXD(t *testing.T) lxd.Admin {
	t.Helper()
	d := lxd.NewAdmin(socket, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	why := ""
	if err := d.Check(ctx, image); err != nil {
		why = err.Error()
	}
	if why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("LXD test cannot run (CI=true, so this fails): %s; run scripts/lxd-setup as root", why)
		}
		t.Skipf("!!! LXD TEST SKIPPED: %s (run scripts/lxd-setup as root)", why)
	}
	return d
}

// project makes a project for this test and deletes it (with whatever is
// left in it) at the end.
func project(t *testing.T, d lxd.Admin) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	name := "pdk-t-" + hex.EncodeToString(b)
	if err := d.CreateProject(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var err error
		// A create cut short by a test may still be unpacking: retry.
		for i := 0; i < 20; i++ {
			if err = d.DeleteProject(ctx, name); err == nil {
				return
			}
			time.Sleep(time.Second)
		}
		t.Errorf("cleanup of LXD project %s: %v", name, err)
	})
	return name
}

func options(proj, cid string) lxd.Options {
	return lxd.Options{ControllerID: cid, Socket: socket, Project: proj, Image: image, Network: network, StoragePool: pool}
}
