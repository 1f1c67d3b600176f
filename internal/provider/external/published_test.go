package external_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider/external"
)

// Behaviour of the executables published for GARM, as testers met it with
// garm-provider-lxd v0.1.4 on real LXD (the reference provider's modes).

type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func withLog(lb *logBuf) func(*external.Options) {
	return func(o *external.Options) { o.Logger = slog.New(slog.NewTextHandler(lb, nil)) }
}

// The fake must answer as garm-provider-common's v0.1.0-only executables do.
func TestRefproviderV010OnlyAnswersLikeGarmProviderCommon(t *testing.T) {
	e := newEnv(t, external.V010, 30*time.Second)
	e.cfg["interface"] = "v0.1.0"
	e.write()
	run := func(version, command string) (string, string, int) {
		cmd := exec.Command(refprovider)
		cmd.Env = []string{"GARM_COMMAND=" + command, "GARM_CONTROLLER_ID=c", "GARM_PROVIDER_CONFIG_FILE=" + e.cfgPath,
			"GARM_INTERFACE_VERSION=" + version, "GARM_POOL_ID=p", "GARM_INSTANCE_ID=i"}
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		_ = cmd.Run()
		return out.String(), errb.String(), cmd.ProcessState.ExitCode()
	}
	for _, c := range []string{external.CmdList, external.CmdGetVersion, external.CmdSupportedVersions} {
		if _, stderr, code := run(external.V011, c); code != 1 || stderr != "failed to run command: provider does not implement v0.1.1 ExternalProvider" {
			t.Errorf("v0.1.1 %s: exit %d, stderr %q", c, code, stderr)
		}
	}
	if out, _, code := run(external.V010, external.CmdGetVersion); code != 0 || out != "refprovider v0.0.1" {
		t.Errorf("v0.1.0 GetVersion: exit %d, %q", code, out)
	}
	if _, stderr, code := run(external.V010, external.CmdSupportedVersions); code != 1 ||
		!strings.HasSuffix(stderr, "failed to validate execution environment: unknown GARM_COMMAND: GetSupportedInterfaceVersions\n") {
		t.Errorf("v0.1.0 GetSupportedInterfaceVersions: exit %d, stderr %q", code, stderr)
	}
	if out, _, code := run("", external.CmdList); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("no version (v0.1.0 as GARM assumes): exit %d, %q", code, out)
	}
}

func TestAutoDetectsAV010OnlyExecutable(t *testing.T) {
	e := newEnv(t, external.V010, 30*time.Second)
	e.cfg["interface"] = "v0.1.0"
	e.write()
	var lb logBuf
	e.reopen("", withLog(&lb)) // no interface_version configured
	ctx := context.Background()
	if _, err := e.p.Create(ctx, spec("m-1")); err != nil {
		t.Fatalf("create with a v0.1.0-only executable: %v", err)
	}
	if _, err := e.p.List(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := e.p.Version(ctx); err != nil || v != "refprovider v0.0.1" {
		t.Errorf("GetVersion = %q, %v", v, err)
	}
	if got := e.p.InterfaceVersion(); got != external.V010 {
		t.Errorf("interface version = %s, want v0.1.0", got)
	}
	if n := e.count(external.CmdSupportedVersions); n != 1 {
		t.Errorf("probed %d times, want once", n)
	}
	for _, c := range e.calls() {
		want := external.V010
		if c.Command == external.CmdSupportedVersions {
			want = external.V011
		}
		if c.Env["GARM_INTERFACE_VERSION"] != want {
			t.Errorf("%s sent with %s, want %s", c.Command, c.Env["GARM_INTERFACE_VERSION"], want)
		}
	}
	if !strings.Contains(lb.String(), "version=v0.1.0") || !strings.Contains(lb.String(), "does not implement v0.1.1") {
		t.Errorf("choice not logged with its reason: %s", lb.String())
	}
}

func TestAutoDetectsAV011Executable(t *testing.T) {
	e := newEnv(t, "", 30*time.Second)
	if _, err := e.p.Create(context.Background(), spec("m-1")); err != nil {
		t.Fatal(err)
	}
	if got := e.p.InterfaceVersion(); got != external.V011 {
		t.Errorf("interface version = %s, want v0.1.1", got)
	}
	if c := e.lastCall(external.CmdCreate); c.Env["GARM_INTERFACE_VERSION"] != external.V011 || c.Env["GARM_POOL_EXTRASPECS"] == "" {
		t.Errorf("create env = %v", c.Env)
	}
}

// Configured v0.1.1 (as Paddock's docs used to advise) for a v0.1.0-only
// executable: the first call fails with that exact error, the adapter
// switches to v0.1.0 for good and the call succeeds.
func TestConfiguredV011FallsBackOnTheExactError(t *testing.T) {
	e := newEnv(t, external.V011, 30*time.Second)
	e.cfg["interface"] = "v0.1.0"
	e.write()
	ctx := context.Background()
	if _, err := e.p.Create(ctx, spec("m-1")); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := e.p.Get(ctx, "m-1"); err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, c := range e.calls() {
		versions = append(versions, c.Command+"@"+c.Env["GARM_INTERFACE_VERSION"])
	}
	want := "CreateInstance@v0.1.1 CreateInstance@v0.1.0 GetInstance@v0.1.0"
	if got := strings.Join(versions, " "); got != want {
		t.Errorf("calls = %s, want %s", got, want)
	}
	// Other failures are not mistaken for it.
	e2 := newEnv(t, external.V011, 30*time.Second)
	e2.fault(external.CmdGet, "exit:1")
	if _, err := e2.p.Get(ctx, "x"); err == nil || e2.p.InterfaceVersion() != external.V011 {
		t.Errorf("a plain failure switched the version: %v, %s", err, e2.p.InterfaceVersion())
	}
}

// Seen on real LXD: after the crash the container is listed "stopped" while
// the dead manager's CreateInstance is still starting it. The retried create
// waits for it to run; handed over stopped, reconcile retired it and made a
// replacement.
func TestRetriedCreateWaitsForAnAdoptedMachineStillStarting(t *testing.T) {
	e := newEnv(t, "", 30*time.Second)
	e.cfg["interface"], e.cfg["duplicate"] = "v0.1.0", "plain"
	e.write()
	ctx := context.Background()
	// The manager dies while CreateInstance runs: the machine exists, its
	// create never returned to the manager.
	e.fault(external.CmdCreate, "crash")
	if _, err := e.p.Create(ctx, spec("m-1")); err == nil {
		t.Fatal("crashing create succeeded")
	}
	e.fault(external.CmdCreate, "")
	if err := e.p.Stop(ctx, "m-1"); err != nil {
		t.Fatal(err)
	}
	orphan := e.p // the killed manager's create, still going
	e.reopen("", nil)
	lists := e.count(external.CmdList)
	started := make(chan error, 1)
	go func() {
		// Start it once the retried create has seen it stopped.
		deadline := time.Now().Add(20 * time.Second)
		for e.count(external.CmdList) <= lists && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		started <- orphan.Start(ctx, "m-1")
	}()
	m, err := e.p.Create(ctx, spec("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if m.Status != "running" {
		t.Errorf("adopted machine handed over %s, want running", m.Status)
	}
	if n := e.count(external.CmdCreate); n != 1 {
		t.Errorf("CreateInstance ran %d times, want once", n)
	}
	if n := e.count(external.CmdDelete); n != 0 {
		t.Errorf("%d deletes of the adopted machine", n)
	}
}

// The adapter lost its memory of the machine (state file gone): the plain
// exit-1 duplicate answer adopts it all the same.
func TestPlainDuplicateErrorAdoptsTheMachine(t *testing.T) {
	e := newEnv(t, "", 30*time.Second)
	e.cfg["interface"], e.cfg["duplicate"] = "v0.1.0", "plain"
	e.write()
	ctx := context.Background()
	first, err := e.p.Create(ctx, spec("m-1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(e.dir, "adapter.json")); err != nil {
		t.Fatal(err)
	}
	e.reopen("", nil)
	again, err := e.p.Create(ctx, spec("m-1"))
	if err != nil || again.ProviderID != first.ProviderID {
		t.Fatalf("create after a plain duplicate = %+v, %v", again, err)
	}
	if n := e.count(external.CmdCreate); n != 2 {
		t.Errorf("CreateInstance ran %d times, want 2 (the second answered duplicate)", n)
	}
	// A plain duplicate for a machine the pool does not list is an error.
	e.fault(external.CmdCreate, "exit:1")
	if _, err := e.p.Create(ctx, spec("other")); err == nil {
		t.Error("plain failure without 'already exists' adopted nothing but succeeded")
	}
}

// RemoveAll for one pool leaves every other pool's machines alone, even with
// an executable whose RemoveAllInstances removes the controller's machines
// of every pool (v0.1.0 passes no pool).
func TestRemoveAllTouchesOnlyThatPool(t *testing.T) {
	e := newEnv(t, "", 30*time.Second)
	e.cfg["interface"] = "v0.1.0"
	e.write()
	ctx := context.Background()
	a, b := spec("a-1"), spec("b-1")
	b.PoolID = "pool-b"
	if _, err := e.p.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Create(ctx, b); err != nil {
		t.Fatal(err)
	}
	pa, pb := e.machinePID("a-1"), e.machinePID("b-1")
	if err := e.p.RemoveAll(ctx, "pool-a"); err != nil {
		t.Fatal(err)
	}
	if !gone(pa) || !alive(pb) {
		t.Errorf("after RemoveAll(pool-a): a alive %v, b alive %v", alive(pa), alive(pb))
	}
	if n := e.count(external.CmdRemoveAll); n != 0 {
		t.Errorf("RemoveAllInstances sent %d times", n)
	}
}

func TestProxyAndCABundleReachTheMachine(t *testing.T) {
	e := newEnv(t, "", 30*time.Second)
	pem := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	e.reopen("", func(o *external.Options) {
		o.CACertBundle = pem
		o.Proxy = external.ProxyConfig{HTTPProxy: "http://proxy.internal:3128", NoProxy: "10.0.0.0/8"}
	})
	if _, err := e.p.Create(context.Background(), spec("m-1")); err != nil {
		t.Fatal(err)
	}
	in := e.lastCall(external.CmdCreate).Stdin
	var bi external.BootstrapInstance
	if err := jsonUnmarshal(in, &bi); err != nil {
		t.Fatal(err)
	}
	if string(bi.CACertBundle) != string(pem) || bi.ProxyConfig.HTTPProxy != "http://proxy.internal:3128" || bi.ProxyConfig.NoProxy != "10.0.0.0/8" {
		t.Errorf("bootstrap ca/proxy = %q %+v", bi.CACertBundle, bi.ProxyConfig)
	}
}

// Many first calls at once still probe the executable once.
func TestConcurrentFirstCallsProbeOnce(t *testing.T) {
	e := newEnv(t, external.V010, 30*time.Second)
	e.cfg["interface"] = "v0.1.0"
	e.write()
	e.reopen("", nil)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.p.Create(context.Background(), spec(fmt.Sprintf("m-%d", i))); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := e.count(external.CmdSupportedVersions); n != 1 {
		t.Errorf("probed %d times, want once", n)
	}
}
