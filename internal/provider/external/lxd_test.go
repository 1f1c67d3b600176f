package external_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

// Seen with garm-provider-lxd on real LXD: a missing profile (the pool's
// flavor) fails the create with exit 30, the protocol's "instance not
// found" code; a missing image alias with exit 1. Either is a failed create
// that says why, not a missing machine, and leaves none behind.
func TestLXDMissingProfileOrImageFailsTheCreate(t *testing.T) {
	e := newEnv(t, "", 30*time.Second)
	e.cfg["interface"], e.cfg["duplicate"] = "v0.1.0", "plain"
	e.cfg["profiles"], e.cfg["images"] = []string{"default"}, []string{"ubuntu:24.04"}
	e.write()
	ctx := context.Background()
	for _, c := range []struct {
		name, flavor, image, want string
		code                      int
	}{
		{"m-profile", "small", "ubuntu:24.04", `fetching profile "small": not found`, 30},
		{"m-image", "default", "debian:13", `fetching image "debian:13": not found`, 1},
	} {
		s := spec(c.name)
		s.Flavor, s.Image = c.flavor, c.image
		_, err := e.p.Create(ctx, s)
		var ee *external.ExecError
		if !errors.As(err, &ee) || ee.ExitCode != c.code || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: create = %v; want exit %d saying %q", c.name, err, c.code, c.want)
		}
		if errors.Is(err, provider.ErrNotFound) {
			t.Errorf("%s: create failure reads as a missing machine: %v", c.name, err)
		}
	}
	ms, err := e.p.List(ctx)
	if err != nil || len(ms) != 0 {
		t.Fatalf("after failed creates: %+v, %v; want no machines", ms, err)
	}
	s := spec("m-ok")
	s.Flavor = "default"
	if _, err := e.p.Create(ctx, s); err != nil {
		t.Fatalf("create with an existing profile and image: %v", err)
	}
}

// While LXD's create operation runs, the container is listed "stopped" and
// a delete fails (exit 1, busy). The adapter reports that delete as failed
// and keeps the machine, so a later delete, once the create is done,
// removes it: nothing leaks.
func TestLXDCreateOperationListsStoppedAndRefusesDelete(t *testing.T) {
	e := newEnv(t, "", 30*time.Second)
	e.cfg["interface"], e.cfg["duplicate"], e.cfg["create_delay"] = "v0.1.0", "plain", "1500ms"
	e.write()
	ctx := context.Background()
	created := make(chan error, 1)
	go func() {
		_, err := e.p.Create(ctx, spec("m-1"))
		created <- err
	}()
	var listed []provider.Machine
	deadline := time.Now().Add(10 * time.Second)
	for len(listed) == 0 && time.Now().Before(deadline) {
		listed, _ = e.p.List(ctx)
		time.Sleep(20 * time.Millisecond)
	}
	if len(listed) != 1 || listed[0].Status != "stopped" {
		t.Fatalf("listing during the create = %+v; want m-1 stopped", listed)
	}
	err := e.p.Delete(ctx, "m-1")
	var ee *external.ExecError
	if !errors.As(err, &ee) || ee.ExitCode != 1 || !strings.Contains(err.Error(), `busy running a "create" operation`) {
		t.Fatalf("delete during the create = %v; want exit 1, busy", err)
	}
	if err := <-created; err != nil {
		t.Fatalf("create: %v", err)
	}
	if m, err := e.p.Get(ctx, "m-1"); err != nil || m.Status != "running" {
		t.Fatalf("after the create: %+v, %v; want running", m, err)
	}
	pid := e.machinePID("m-1")
	if err := e.p.Delete(ctx, "m-1"); err != nil {
		t.Fatalf("delete after the create: %v", err)
	}
	if !gone(pid) {
		t.Errorf("machine process %d still alive after delete", pid)
	}
	if ms, err := e.p.List(ctx); err != nil || len(ms) != 0 {
		t.Fatalf("after delete: %+v, %v", ms, err)
	}
}
