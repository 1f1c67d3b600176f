// Package providertest is the conformance suite every provider runs from its
// own tests (like storetest for stores): the behaviours the controller relies
// on to retry any call after a crash, on any infrastructure.
package providertest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
)

// Harness is what a provider's test gives the suite. The suite makes a fresh
// Harness for every case; New over one Harness shares state (a restarted
// manager on the same host or cluster). Optional hooks left nil skip the
// cases that need them, saying so.
type Harness struct {
	// New returns a provider instance for controllerID over the harness's state.
	New func(t *testing.T, controllerID string) provider.Provider
	// Spec, if set, adjusts the spec the suite built (image, URLs the
	// machine must not reach, ...).
	Spec func(s *provider.Spec)
	// NeedCreate, if set, is called before any case whose Create must start a
	// machine (it may skip, e.g. when QEMU is absent).
	NeedCreate func(t *testing.T)
	// CallsBack says machines call the spec's metadata URL while booting; the
	// suite then serves it and checks the call arrives.
	CallsBack bool
	// CallsBackBeforeCreateReturns says this provider's Create waits for the
	// machine's first call (as LXD-like providers do).
	CallsBackBeforeCreateReturns bool
	// CrashMidCreate leaves the state a create of spec by controller "c1"
	// that crashed part-way leaves behind.
	CrashMidCreate func(t *testing.T, spec provider.Spec)
	// CrashAfterStart leaves the state a create of spec by controller "c1"
	// leaves when the manager dies right after starting the machine's
	// process (before Create could record anything more). running reports
	// whether that process still runs.
	CrashAfterStart func(t *testing.T, spec provider.Spec) (running func() bool)
	// Slow prepares p so that its next Create of s (or, if Create stays
	// fast, Delete of s) takes far longer than a second; it may create s.
	Slow func(t *testing.T, p provider.Provider, s provider.Spec)
	// FailCreate and FailList make those calls fail on the infrastructure side.
	// FailCreate runs before New, so it may change what the provider is built with.
	// FailList may use p (e.g. to make a machine, so List has a pool to ask).
	FailCreate func(t *testing.T)
	FailList   func(t *testing.T, p provider.Provider)
}

// Run runs every case against the provider newHarness makes.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	cases := []struct {
		name string
		f    func(t *testing.T, h *Harness)
	}{
		{"CreateIsIdempotentByName", createIdempotent},
		{"RestartedProviderAdoptsByName", restartAdopts},
		{"DeleteOfMissingMachineSucceeds", deleteMissing},
		{"DeleteTwiceSucceeds", deleteTwice},
		{"ListIsThisControllersOnly", listController},
		{"ListReportsEachMachinesPool", listPool},
		{"MachineCallsBack", callsBack},
		{"CrashMidCreateIsFoundOrCleaned", crashMidCreate},
		{"CrashAfterStartIsFoundAndStopped", crashAfterStart},
		{"SlowCallHonoursCancellation", slowCall},
		{"FailingCreateIsAnError", failCreate},
		{"FailingListIsAnError", failList},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.f(t, newHarness(t)) })
	}
}

// machineCall is a loopback manager: it records the machine's calls.
type machineCall struct {
	srv   *httptest.Server
	calls atomic.Int32
	early atomic.Bool // a call came before Create returned
	done  atomic.Bool // Create has returned
}

func newManager(t *testing.T) *machineCall {
	m := &machineCall{}
	m.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.calls.Add(1)
		if !m.done.Load() {
			m.early.Store(true)
		}
		_, _ = w.Write([]byte("#!/bin/sh\nexit 0\n"))
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func (h *Harness) spec(name, pool string, mgr *machineCall) provider.Spec {
	base := "http://127.0.0.1:9" // discard: machines of cases that do not serve them get nowhere
	if mgr != nil {
		base = mgr.srv.URL
	}
	s := provider.Spec{Name: name, ControllerID: "c1", PoolID: pool, Image: "default", OSType: "linux", Arch: "x64",
		Labels: []string{"self-hosted"}, MetadataURL: base + "/api/v1/metadata", CallbackURL: base + "/api/v1/callbacks",
		Token: "tok-" + name}
	if h.Spec != nil {
		h.Spec(&s)
	}
	return s
}

func (h *Harness) needCreate(t *testing.T) {
	if h.NeedCreate != nil {
		h.NeedCreate(t)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	return c
}

// create makes a machine and deletes it when the test ends.
func create(t *testing.T, p provider.Provider, s provider.Spec) provider.Machine {
	t.Helper()
	m, err := p.Create(ctx(t), s)
	t.Cleanup(func() { _ = p.Delete(context.Background(), s.Name) })
	if err != nil {
		t.Fatalf("create %s: %v", s.Name, err)
	}
	if m.Name != s.Name || m.Status == provider.StatusError {
		t.Fatalf("create %s returned %+v", s.Name, m)
	}
	return m
}

func names(t *testing.T, p provider.Provider) []string {
	t.Helper()
	ms, err := p.List(ctx(t))
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Name)
	}
	slices.Sort(out)
	return out
}

func wantNames(t *testing.T, p provider.Provider, want ...string) {
	t.Helper()
	if got := names(t, p); !slices.Equal(got, want) {
		t.Fatalf("list = %v, want %v", got, want)
	}
}

func wantGone(t *testing.T, p provider.Provider, name string) {
	t.Helper()
	if m, err := p.Get(ctx(t), name); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("get %s = %+v, %v; want ErrNotFound", name, m, err)
	}
}
