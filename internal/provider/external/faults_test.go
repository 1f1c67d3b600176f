package external_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/external"
)

func TestExitCodes(t *testing.T) {
	for _, version := range external.Versions() {
		t.Run(version, func(t *testing.T) {
			e := newEnv(t, version, 30*time.Second)
			ctx := context.Background()
			if _, err := e.p.Create(ctx, spec("m")); err != nil {
				t.Fatal(err)
			}
			check := func(what string, err error, ok func(error) bool) {
				t.Helper()
				if !ok(err) {
					t.Errorf("%s: unexpected result %v", what, err)
				}
			}
			isNil := func(err error) bool { return err == nil }
			notFound := func(err error) bool { return errors.Is(err, provider.ErrNotFound) }
			failedWith := func(code int) func(error) bool {
				return func(err error) bool {
					var ee *external.ExecError
					return errors.As(err, &ee) && ee.ExitCode == code && strings.Contains(err.Error(), "forced exit")
				}
			}

			e.fault(external.CmdGet, "exit:30")
			_, err := e.p.Get(ctx, "m")
			check("Get exit 30", err, notFound)
			e.fault(external.CmdGet, "exit:1")
			_, err = e.p.Get(ctx, "m")
			check("Get exit 1", err, failedWith(1))
			e.fault(external.CmdGet, "exit:31")
			_, err = e.p.Get(ctx, "m")
			check("Get exit 31", err, failedWith(31))
			e.fault(external.CmdGet, "")

			e.fault(external.CmdDelete, "exit:30")
			check("Delete exit 30", e.p.Delete(ctx, "never-made"), isNil)
			e.fault(external.CmdDelete, "exit:7")
			check("Delete exit 7", e.p.Delete(ctx, "m"), failedWith(7))
			e.fault(external.CmdDelete, "")

			e.fault(external.CmdList, "exit:30")
			_, err = e.p.List(ctx)
			check("List exit 30", err, failedWith(30))
			e.fault(external.CmdList, "")

			// 31 on create: the adapter fetches the existing machine.
			e.fault(external.CmdCreate, "exit:31")
			m, err := e.p.Create(ctx, spec("m"))
			check("Create exit 31 of an existing machine", err, isNil)
			if m.Name != "m" || m.Status != provider.StatusRunning {
				t.Errorf("create after 31 = %+v", m)
			}
			_, err = e.p.Create(ctx, spec("ghost"))
			check("Create exit 31 of a machine that does not exist", err, func(err error) bool {
				return err != nil && errors.Is(err, provider.ErrNotFound)
			})
			e.fault(external.CmdCreate, "exit:1")
			_, err = e.p.Create(ctx, spec("x"))
			check("Create exit 1", err, failedWith(1))
			e.fault(external.CmdCreate, "")

			for _, cmd := range []string{external.CmdStart, external.CmdStop, external.CmdList} {
				e.fault(cmd, "exit:2")
			}
			check("Start exit 2", e.p.Start(ctx, "m"), failedWith(2))
			check("Stop exit 2", e.p.Stop(ctx, "m"), failedWith(2))
			check("RemoveAll with ListInstances exit 2", e.p.RemoveAll(ctx, "pool-a"), failedWith(2))
		})
	}
}

func TestTimeoutKillsTheWholeProcessGroup(t *testing.T) {
	e := newEnv(t, external.V011, 700*time.Millisecond)
	ctx := context.Background()
	if _, err := e.p.Create(ctx, spec("m")); err != nil {
		t.Fatal(err)
	}
	e.fault(external.CmdList, "hang")
	start := time.Now()
	_, err := e.p.List(ctx)
	if !errors.Is(err, external.ErrTimeout) {
		t.Fatalf("hung List: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("hung List returned after %s", d)
	}
	if !strings.Contains(err.Error(), "never answers") {
		t.Errorf("stderr of the hung call is not in the error: %v", err)
	}
	b, rerr := os.ReadFile(filepath.Join(e.dir, "ref", "hang-child.pid"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	child, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(2 * time.Second)
	for alive(child) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(child) {
		t.Fatal("the hung provider's child survived the timeout")
	}
	// A hung create leaves Paddock free to clean up (the controller deletes).
	e.fault(external.CmdList, "")
	e.fault(external.CmdCreate, "hang")
	if _, err := e.p.Create(ctx, spec("slow")); !errors.Is(err, external.ErrTimeout) {
		t.Fatalf("hung Create: %v", err)
	}
}

func TestBadAnswersAreRejected(t *testing.T) {
	e := newEnv(t, external.V011, 30*time.Second)
	ctx := context.Background()
	if _, err := e.p.Create(ctx, spec("m")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cmd, fault, want string
		call             func() error
	}{
		{external.CmdCreate, "garbage", "not a ProviderInstance", func() error { _, err := e.p.Create(ctx, spec("g")); return err }},
		{external.CmdCreate, "invalid", "missing provider_id", func() error { _, err := e.p.Create(ctx, spec("i")); return err }},
		{external.CmdCreate, "bad-status", `unknown status "exploded"`, func() error { _, err := e.p.Create(ctx, spec("s")); return err }},
		{external.CmdGet, "garbage", "not a ProviderInstance", func() error { _, err := e.p.Get(ctx, "m"); return err }},
		{external.CmdGet, "invalid", "missing name", func() error { _, err := e.p.Get(ctx, "m"); return err }},
		{external.CmdList, "garbage", "not a JSON array", func() error { _, err := e.p.List(ctx); return err }},
		{external.CmdList, "invalid", `unknown status "exploded"`, func() error { _, err := e.p.List(ctx); return err }},
		{external.CmdSupportedVersions, "garbage", "JSON array of strings", func() error { _, err := e.p.SupportedInterfaceVersions(ctx); return err }},
		{external.CmdConfigSchema, "garbage", "not JSON", func() error { _, err := e.p.ConfigJSONSchema(ctx); return err }},
	}
	for _, c := range cases {
		e.fault(c.cmd, c.fault)
		err := c.call()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s with %s: %v, want an error containing %q", c.cmd, c.fault, err, c.want)
		}
		e.fault(c.cmd, "")
	}
}

func TestStderrIsBoundedAndEndsUpInTheError(t *testing.T) {
	e := newEnv(t, external.V011, 30*time.Second)
	e.fault(external.CmdCreate, "stderr-flood")
	_, err := e.p.Create(context.Background(), spec("m"))
	if err == nil {
		t.Fatal("create succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, "the real error is at the end") || len(msg) > 2000 {
		t.Fatalf("error (%d bytes) does not end with the provider's last words: …%s", len(msg), msg[max(0, len(msg)-200):])
	}
}

func TestProviderCrashingMidCreate(t *testing.T) {
	e := newEnv(t, external.V010, 30*time.Second)
	ctx := context.Background()
	e.fault(external.CmdCreate, "crash")
	_, err := e.p.Create(ctx, spec("m"))
	var ee *external.ExecError
	if !errors.As(err, &ee) || ee.ExitCode != 2 || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("crashed create: %v", err)
	}
	// The machine was made before the crash: a retried create finds it
	// (duplicate, 31) and succeeds, and the adapter lists it.
	e.fault(external.CmdCreate, "")
	m, err := e.p.Create(ctx, spec("m"))
	if err != nil || m.Status != provider.StatusRunning {
		t.Fatalf("retried create = %+v, %v", m, err)
	}
	if ms, _ := e.p.List(ctx); len(ms) != 1 {
		t.Fatalf("list after crash = %+v", ms)
	}
	// Or the controller's cleanup deletes it: nothing is left running.
	pid := e.machinePID("m")
	if err := e.p.Delete(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if !gone(pid) {
		t.Fatal("machine of the crashed create survived delete")
	}
}

func TestUnknownInstanceIsListedAndCanBeRemoved(t *testing.T) {
	e := newEnv(t, external.V011, 30*time.Second)
	e.cfg["stray"] = "intruder"
	e.write()
	ctx := context.Background()
	if _, err := e.p.Create(ctx, spec("mine")); err != nil {
		t.Fatal(err)
	}
	ms, err := e.p.List(ctx)
	if err != nil || len(ms) != 2 {
		t.Fatalf("list = %+v, %v", ms, err)
	}
	// Paddock's reconcile deletes machines it does not track; the adapter
	// learned the stray's pool and provider_id from the list.
	if err := e.p.Delete(ctx, "intruder"); err != nil {
		t.Fatal(err)
	}
	if c := e.lastCall(external.CmdDelete); c.Env["GARM_INSTANCE_ID"] != "ref-stray" || c.Env["GARM_POOL_ID"] != "pool-a" {
		t.Errorf("delete of the stray: env %v", c.Env)
	}
	if ms, _ := e.p.List(ctx); len(ms) != 1 || ms[0].Name != "mine" {
		t.Fatalf("list after removing the stray = %+v", ms)
	}
}

func TestStateSurvivesARestart(t *testing.T) {
	e := newEnv(t, external.V011, 30*time.Second)
	ctx := context.Background()
	if _, err := e.p.Create(ctx, spec("m")); err != nil {
		t.Fatal(err)
	}
	p2, err := external.New(external.Options{Executable: refprovider, ConfigFile: e.cfgPath, ControllerID: "ctrl-1",
		StateFile: filepath.Join(e.dir, "adapter.json"), Environ: func() []string { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := p2.List(ctx)
	if err != nil || len(ms) != 1 || ms[0].Name != "m" {
		t.Fatalf("list after restart = %+v, %v", ms, err)
	}
	if err := p2.Delete(ctx, "m"); err != nil {
		t.Fatal(err)
	}
	if c := e.lastCall(external.CmdDelete); !strings.HasPrefix(c.Env["GARM_INSTANCE_ID"], "ref-") {
		t.Errorf("after restart, delete used %q instead of the provider_id", c.Env["GARM_INSTANCE_ID"])
	}
}
