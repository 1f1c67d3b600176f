package controller_test

import (
	"context"
	"testing"

	"github.com/paddock-ci/paddock/internal/controller"
	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forge/gitea"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

// wrappedClient is a pool client that wraps the forge's, as scale-set pools'
// clients do, overriding nothing.
type wrappedClient struct{ forge.Client }

// wrapAll gives every pool a wrapped client.
type wrapAll struct{}

func (wrapAll) PoolClient(_ context.Context, _ core.Pool, base forge.Client) (forge.Client, error) {
	return wrappedClient{base}, nil
}

// A forge's capabilities survive a pool client wrapping it: the machine of a
// Gitea pool is told to run act_runner. (Capabilities used to be probed by
// type assertions, which an embedding wrapper silently fails.)
func TestWrappedForgeClientKeepsItsCapabilities(t *testing.T) {
	sim := forgesim.New(forgesim.Options{Flavor: forgesim.FlavorGitea})
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	h := newHarnessOn(t, sim, []core.Pool{pool("linux", "linux")}, func(o *controller.Options) {
		o.PoolClients = wrapAll{}
	})
	h.event("queued", 3, []string{"linux"}, "")
	h.eventually("running", func() bool { return len(h.instances(core.InstanceRunning)) == 1 })
	spec, _ := h.prov.spec(h.instances(core.InstanceRunning)[0].Name)
	if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerInstalling, ""); err != nil {
		t.Fatal(err)
	}
	cfg, err := h.ctl.RunnerConfigFor(h.ctx, spec.Token)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kind != gitea.RunnerKindActRunner {
		t.Fatalf("runner kind = %q through a wrapping pool client, want %q", cfg.Kind, gitea.RunnerKindActRunner)
	}
}
