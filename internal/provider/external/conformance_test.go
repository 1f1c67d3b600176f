package external_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
	"github.com/paddock-ci/paddock/internal/provider/providertest"
)

// TestConformance runs the suite against the reference executable in each
// of the ways published providers behave.
func TestConformance(t *testing.T) {
	// The suite's machines have no manager to call back to, so an adopted
	// machine that stopped is spent, not starting: do not wait minutes for it.
	t.Cleanup(external.SetAdoptWait(3 * time.Second))
	for _, m := range []struct {
		name    string
		version string
		cfg     map[string]any
		early   bool // the machine calls before CreateInstance returns
	}{
		{name: "normal", version: "auto"},
		{name: "v0.1.0-only", version: "auto", cfg: map[string]any{"interface": "v0.1.0"}},
		// garm-provider-lxd: a plain error for a duplicate, and Create waits
		// for the machine's first call.
		{name: "lxd-like", version: "auto", early: true, cfg: map[string]any{"interface": "v0.1.0", "duplicate": "plain",
			"wait_for_callback": true, "boot_delay": "300ms"}},
		{name: "slow-boot", version: external.V010, cfg: map[string]any{"boot_delay": "2s"}},
	} {
		t.Run(m.name, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) *providertest.Harness {
				return refHarness(t, m.version, m.cfg, m.early)
			})
		})
	}
}

func refHarness(t *testing.T, version string, mode map[string]any, early bool) *providertest.Harness {
	dir := t.TempDir()
	e := &env{t: t, dir: dir, cfgPath: filepath.Join(dir, "provider.json"), cfg: map[string]any{"state_dir": filepath.Join(dir, "ref")}}
	for k, v := range mode {
		e.cfg[k] = v
	}
	e.write()
	t.Cleanup(e.killAll)
	newP := func(t *testing.T, controllerID string) provider.Provider {
		// Each controller is its own manager, with its own adapter state.
		p, err := external.New(external.Options{
			Executable: refprovider, ConfigFile: e.cfgPath, InterfaceVersion: version, ControllerID: controllerID,
			Timeout: 30 * time.Second, StateFile: filepath.Join(dir, controllerID+"-adapter.json"),
			Environ: func() []string { return managerEnv },
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var h *providertest.Harness
	h = &providertest.Harness{
		New:                          newP,
		CallsBack:                    true,
		CallsBackBeforeCreateReturns: early,
		CrashMidCreate: func(t *testing.T, s provider.Spec) {
			e.fault(external.CmdCreate, "crash") // the executable dies after making the machine
			defer e.fault(external.CmdCreate, "")
			if _, err := newP(t, "c1").Create(context.Background(), s); err == nil {
				t.Fatal("crashing create succeeded")
			}
		},
		Slow:       func(*testing.T, provider.Provider, provider.Spec) { e.fault(external.CmdCreate, "hang") },
		FailCreate: func(*testing.T) { e.fault(external.CmdCreate, "exit:1") },
		FailList: func(t *testing.T, p provider.Provider) {
			s := spec("pt-list")
			if h.Spec != nil {
				h.Spec(&s)
			}
			if _, err := p.Create(context.Background(), s); err != nil {
				t.Fatal(err)
			}
			e.fault(external.CmdList, "exit:1")
		},
	}
	if early {
		// Create waits for the machine's first call: every machine needs a
		// manager that answers, not only those of the callback case.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("#!/bin/bash\nexit 0\n"))
		}))
		t.Cleanup(srv.Close)
		h.Spec = func(s *provider.Spec) {
			if strings.HasPrefix(s.MetadataURL, "http://127.0.0.1:9/") {
				s.MetadataURL, s.CallbackURL = srv.URL+"/api/v1/metadata", srv.URL+"/api/v1/callbacks"
			}
		}
	}
	return h
}
