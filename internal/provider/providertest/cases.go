package providertest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
)

func createIdempotent(t *testing.T, h *Harness) {
	h.needCreate(t)
	p := h.New(t, "c1")
	s := h.spec("pt-a", "pool-a", nil)
	m := create(t, p, s)
	again, err := p.Create(ctx(t), s)
	if err != nil || again.ProviderID != m.ProviderID {
		t.Fatalf("second create = %+v, %v; want the machine %+v", again, err, m)
	}
	wantNames(t, p, "pt-a")
	if got, err := p.Get(ctx(t), "pt-a"); err != nil || got.ProviderID != m.ProviderID || got.PoolID != "pool-a" {
		t.Fatalf("get = %+v, %v", got, err)
	}
}

// A manager that crashed after Create and retries it with a new provider
// instance gets the same machine, whatever way the infrastructure answers a
// duplicate (exit 31, a plain error, AlreadyExists).
func restartAdopts(t *testing.T, h *Harness) {
	h.needCreate(t)
	s := h.spec("pt-a", "pool-a", nil)
	m := create(t, h.New(t, "c1"), s)
	p := h.New(t, "c1")
	again, err := p.Create(ctx(t), s)
	if err != nil || again.ProviderID != m.ProviderID {
		t.Fatalf("create after restart = %+v, %v; want the machine %+v", again, err, m)
	}
	wantNames(t, p, "pt-a")
}

func deleteMissing(t *testing.T, h *Harness) {
	p := h.New(t, "c1")
	if err := p.Delete(ctx(t), "pt-never"); err != nil {
		t.Fatalf("delete of a machine that never existed: %v", err)
	}
	wantGone(t, p, "pt-never")
	wantNames(t, p)
}

func deleteTwice(t *testing.T, h *Harness) {
	h.needCreate(t)
	p := h.New(t, "c1")
	create(t, p, h.spec("pt-a", "pool-a", nil))
	for i := range 2 {
		if err := p.Delete(ctx(t), "pt-a"); err != nil {
			t.Fatalf("delete #%d: %v", i+1, err)
		}
	}
	wantGone(t, p, "pt-a")
	wantNames(t, p)
	// A restarted manager does not find it either.
	wantGone(t, h.New(t, "c1"), "pt-a")
}

// Two controllers sharing the infrastructure never see, nor delete, each
// other's machines.
func listController(t *testing.T, h *Harness) {
	h.needCreate(t)
	mine, theirs := h.New(t, "c1"), h.New(t, "c2")
	create(t, mine, h.spec("pt-a", "pool-a", nil))
	ts := h.spec("pt-b", "pool-a", nil)
	ts.ControllerID = "c2"
	create(t, theirs, ts)
	wantNames(t, mine, "pt-a")
	wantNames(t, theirs, "pt-b")
	wantGone(t, mine, "pt-b")
	if err := mine.Delete(ctx(t), "pt-b"); err != nil {
		t.Fatalf("delete of another controller's machine: %v (want a no-op)", err)
	}
	if _, err := theirs.Get(ctx(t), "pt-b"); err != nil {
		t.Fatalf("another controller's Delete removed the machine: %v", err)
	}
}

func listPool(t *testing.T, h *Harness) {
	h.needCreate(t)
	p := h.New(t, "c1")
	create(t, p, h.spec("pt-a", "pool-a", nil))
	create(t, p, h.spec("pt-b", "pool-b", nil))
	for _, q := range []provider.Provider{p, h.New(t, "c1")} {
		ms, err := q.List(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		pools := map[string]string{}
		for _, m := range ms {
			pools[m.Name] = m.PoolID
		}
		if len(ms) != 2 || pools["pt-a"] != "pool-a" || pools["pt-b"] != "pool-b" {
			t.Fatalf("list = %+v; want pt-a in pool-a, pt-b in pool-b", ms)
		}
	}
}

// The machine's first call may arrive before Create returns (providers that
// wait for their machine) or after: both must work.
func callsBack(t *testing.T, h *Harness) {
	if !h.CallsBack {
		t.Skip("this provider's machines call no manager in tests")
	}
	h.needCreate(t)
	p := h.New(t, "c1")
	mgr := newManager(t)
	create(t, p, h.spec("pt-a", "pool-a", mgr))
	mgr.done.Store(true)
	deadline := time.Now().Add(60 * time.Second)
	for mgr.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if mgr.calls.Load() == 0 {
		t.Fatal("the machine never called the manager")
	}
	if h.CallsBackBeforeCreateReturns && !mgr.early.Load() {
		t.Fatal("Create returned before the machine's first call, though this provider waits for it")
	}
	if _, err := p.Get(ctx(t), "pt-a"); err != nil {
		t.Fatalf("get after the call: %v", err)
	}
}

// A create that crashed part-way is found by a new provider instance: a
// retried Create succeeds with one machine, and Delete leaves nothing.
func crashMidCreate(t *testing.T, h *Harness) {
	if h.CrashMidCreate == nil {
		t.Skip("no way to crash this provider mid-create")
	}
	s := h.spec("pt-a", "pool-a", nil)
	h.CrashMidCreate(t, s)
	p := h.New(t, "c1")
	if got := names(t, p); len(got) > 1 {
		t.Fatalf("list after the crash = %v", got)
	}
	// Either cleaned up by the controller's Delete ...
	if err := p.Delete(ctx(t), s.Name); err != nil {
		t.Fatalf("delete after the crash: %v", err)
	}
	wantGone(t, p, s.Name)
	wantNames(t, p)
	// ... or adopted by a retried Create.
	h.needCreate(t)
	h.CrashMidCreate(t, s)
	p = h.New(t, "c1")
	create(t, p, s)
	wantNames(t, p, s.Name)
}

// A create that crashed right after starting the machine's process leaves
// something a restarted provider finds: List shows at most that machine,
// Delete stops the process and leaves nothing, and a retried Create adopts
// it (one machine, whose Delete leaves no process).
func crashAfterStart(t *testing.T, h *Harness) {
	if h.CrashAfterStart == nil {
		t.Skip("no way to crash this provider after it started a machine")
	}
	h.needCreate(t)
	s := h.spec("pt-a", "pool-a", nil)
	running := h.CrashAfterStart(t, s)
	if !running() {
		t.Fatal("the hook left no running process")
	}
	p := h.New(t, "c1")
	if got := names(t, p); !slices.Equal(got, []string{s.Name}) {
		t.Fatalf("list after the crash = %v; want the started machine %s", got, s.Name)
	}
	if err := p.Delete(ctx(t), s.Name); err != nil {
		t.Fatalf("delete after the crash: %v", err)
	}
	wantGone(t, p, s.Name)
	wantNames(t, p)
	waitStopped(t, running, "Delete after the crash")

	running = h.CrashAfterStart(t, s)
	p = h.New(t, "c1")
	if got := names(t, p); !slices.Equal(got, []string{s.Name}) {
		t.Fatalf("list after the crash = %v; want the started machine %s", got, s.Name)
	}
	// The retried Create adopts the process, or (if it had not got far
	// enough to be adopted) makes sure it stops and starts another.
	create(t, p, s)
	wantNames(t, p, s.Name)
	if err := p.Delete(ctx(t), s.Name); err != nil {
		t.Fatal(err)
	}
	waitStopped(t, running, "Delete of the adopted machine")
}

func waitStopped(t *testing.T, running func() bool, after string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); running(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the machine's process still runs after %s: leaked", after)
		}
	}
}

func slowCall(t *testing.T, h *Harness) {
	if h.Slow == nil {
		t.Skip("no way to make this provider slow")
	}
	h.needCreate(t)
	p := h.New(t, "c1")
	s := h.spec("pt-a", "pool-a", nil)
	h.Slow(t, p, s)
	t.Cleanup(func() { _ = p.Delete(context.Background(), s.Name) })
	c, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Create(c, s)
	if err == nil { // Create is fast here: Delete is the slow call
		c2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel2()
		start = time.Now()
		err = p.Delete(c2, s.Name)
	}
	if err == nil {
		t.Fatal("a call that outlived its context succeeded")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the cancelled call returned only after %s", d)
	}
}

func failCreate(t *testing.T, h *Harness) {
	if h.FailCreate == nil {
		t.Skip("no way to make this provider's Create fail")
	}
	// Before New: some hooks change what a provider is built with.
	h.FailCreate(t)
	p := h.New(t, "c1")
	m, err := p.Create(ctx(t), h.spec("pt-a", "pool-a", nil))
	t.Cleanup(func() { _ = p.Delete(context.Background(), "pt-a") })
	if err == nil || err.Error() == "" {
		t.Fatalf("failed create = %+v, %v; want the error", m, err)
	}
	var ms []provider.Machine
	if ms, err = p.List(ctx(t)); err == nil {
		for _, m := range ms {
			if m.Name == "pt-a" && m.Status == provider.StatusRunning {
				t.Fatalf("failed create left a running machine: %+v", m)
			}
		}
	}
}

// A List that cannot ask the infrastructure fails: an empty answer would
// make the controller take every machine for gone.
func failList(t *testing.T, h *Harness) {
	if h.FailList == nil {
		t.Skip("no way to make this provider's List fail")
	}
	p := h.New(t, "c1")
	h.FailList(t, p)
	if ms, err := p.List(ctx(t)); err == nil {
		t.Fatalf("failed list = %+v, nil; want the error", ms)
	} else if errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("failed list = %v; want the infrastructure's error", err)
	}
}
