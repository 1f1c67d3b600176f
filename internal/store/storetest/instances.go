package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

func testInstanceCRUD(t *testing.T, s store.Store) {
	p := newChain(t, s)
	i := newInstance(t, s, p.ID, "runner-1")
	if i.ID == "" || i.State != core.InstancePendingCreate || i.Runner != core.RunnerPending {
		t.Fatalf("create defaults: %+v", i)
	}
	if i.CreatedAt.IsZero() || i.StateSince.IsZero() || i.RunnerSince.IsZero() || i.UpdatedAt.IsZero() {
		t.Fatalf("create did not stamp times: %+v", i)
	}
	for _, ref := range []string{i.ID, i.Name} {
		got, err := s.GetInstance(ctx(t), ref)
		must(t, err)
		if got.ID != i.ID || got.PoolID != p.ID || len(got.Labels) != 1 {
			t.Fatalf("get %s: %+v", ref, got)
		}
	}
	dup := core.Instance{Name: "runner-1", PoolID: p.ID}
	wantErr(t, s.CreateInstance(ctx(t), &dup), store.ErrConflict, "duplicate instance name")
	orphan := core.Instance{Name: "runner-2", PoolID: "nope"}
	wantErr(t, s.CreateInstance(ctx(t), &orphan), store.ErrNotFound, "instance in missing pool")
	badState := core.Instance{Name: "runner-3", PoolID: p.ID, State: "flying"}
	if err := s.CreateInstance(ctx(t), &badState); err == nil {
		t.Fatal("instance with unknown state created")
	}
	// A batch is all or nothing: one taken name and none of it is written.
	a, b := core.Instance{Name: "batch-a", PoolID: p.ID}, core.Instance{Name: "runner-1", PoolID: p.ID}
	wantErr(t, s.CreateInstances(ctx(t), []*core.Instance{&a, &b}), store.ErrConflict, "batch with a taken name")
	if _, err := s.GetInstance(ctx(t), "batch-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed batch wrote batch-a: %v", err)
	}
	c, d := core.Instance{Name: "batch-c", PoolID: p.ID}, core.Instance{Name: "batch-d", PoolID: p.ID}
	must(t, s.CreateInstances(ctx(t), []*core.Instance{&c, &d}))
	if c.ID == "" || d.ID == "" || c.ID == d.ID || c.State != core.InstancePendingCreate {
		t.Fatalf("batch create did not fill ids/defaults: %+v %+v", c, d)
	}
	for _, n := range []string{"batch-c", "batch-d"} {
		_, err := s.GetInstance(ctx(t), n)
		must(t, err)
	}

	_, err := s.GetInstance(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound, "get missing instance")
	_, err = s.UpdateInstance(ctx(t), "nope", func(*core.Instance) error { return nil })
	wantErr(t, err, store.ErrNotFound, "update missing instance")

	// Every field the store does not own survives a round trip through UpdateInstance.
	next := time.Now().Add(time.Minute).UTC()
	got, err := s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error {
		in.ProviderID, in.Size, in.CPU, in.MemoryMB, in.DiskGB = "vm-9", "4cpu-16gb", 4, 16384, 50
		in.RunnerID, in.JobID, in.Attempts, in.NextAttemptAt, in.Fault = 11, 22, 2, next, "boom"
		in.Labels = append(in.Labels, "linux")
		return nil
	})
	must(t, err)
	re, err := s.GetInstance(ctx(t), i.Name)
	must(t, err)
	if re.ProviderID != "vm-9" || re.Size != "4cpu-16gb" || re.CPU != 4 || re.MemoryMB != 16384 || re.DiskGB != 50 ||
		re.RunnerID != 11 || re.JobID != 22 || re.Attempts != 2 || re.Fault != "boom" || len(re.Labels) != 2 {
		t.Fatalf("fields lost: %+v", re)
	}
	sameTime(t, "next_attempt_at", re.NextAttemptAt, next)
	sameTime(t, "updated_at returned = stored", re.UpdatedAt, got.UpdatedAt)
	sameTime(t, "created_at kept", re.CreatedAt, i.CreatedAt)

	_, err = s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error { in.Name = "other"; return nil })
	if err == nil {
		t.Fatal("instance rename accepted")
	}
}

func testInstanceList(t *testing.T, s store.Store) {
	p := newChain(t, s)
	e, _ := s.GetEntity(ctx(t), p.EntityID)
	q := newPool(t, s, e.ID, "pool-b")
	newInstance(t, s, p.ID, "b")
	newInstance(t, s, p.ID, "a")
	c := newInstance(t, s, q.ID, "c")
	d := newInstance(t, s, p.ID, "d")
	moveTo(t, s, c.ID, core.InstanceCreating, core.InstanceRunning)
	moveTo(t, s, d.ID, toDeleted...)

	iname := func(i core.Instance) string { return i.Name }
	cases := []struct {
		f    store.InstanceFilter
		want []string
	}{
		{store.InstanceFilter{}, []string{"b", "a", "c", "d"}}, // creation order, not name order
		{store.InstanceFilter{PoolID: p.ID}, []string{"b", "a", "d"}},
		{store.InstanceFilter{Live: true}, []string{"b", "a", "c"}},
		{store.InstanceFilter{PoolID: p.ID, Live: true}, []string{"b", "a"}},
		{store.InstanceFilter{States: []core.InstanceState{core.InstanceRunning, core.InstanceDeleted}}, []string{"c", "d"}},
		{store.InstanceFilter{States: []core.InstanceState{core.InstanceDeleted}, Live: true}, []string{}},
		{store.InstanceFilter{PoolID: "nope"}, []string{}},
	}
	for _, tc := range cases {
		got, err := s.ListInstances(ctx(t), tc.f)
		must(t, err)
		eqStrings(t, "filter", names(got, iname), tc.want)
	}
}

func testInstanceTransitions(t *testing.T, s store.Store) {
	p := newChain(t, s)
	i := newInstance(t, s, p.ID, "r")
	path := []core.InstanceState{core.InstanceCreating, core.InstanceError, core.InstancePendingCreate,
		core.InstanceCreating, core.InstanceRunning}
	got := moveTo(t, s, i.ID, path...)
	if got.State != core.InstanceRunning {
		t.Fatalf("state %s", got.State)
	}
	for _, r := range []core.RunnerState{core.RunnerInstalling, core.RunnerIdle, core.RunnerActive, core.RunnerDone} {
		_, err := s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error { in.Runner = r; return nil })
		must(t, err)
	}
	got = moveTo(t, s, i.ID, toDeleted...)
	if got.State != core.InstanceDeleted || got.Runner != core.RunnerDone {
		t.Fatalf("end: %s/%s", got.State, got.Runner)
	}
}

func testInstanceRefused(t *testing.T, s store.Store) {
	p := newChain(t, s)
	i := newInstance(t, s, p.ID, "r")
	// Reach creating/done, from where both machines have moves to refuse.
	mid, err := s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error {
		in.State, in.Runner = core.InstanceCreating, core.RunnerDone
		return nil
	})
	must(t, err)
	if !mid.UpdatedAt.After(i.UpdatedAt) {
		t.Fatal("allowed update did not stamp updated_at")
	}
	refused := []struct {
		kind string
		fn   func(*core.Instance)
	}{
		{"instance", func(in *core.Instance) { in.State = core.InstanceDeleted; in.Attempts = 5 }},      // skips deleting
		{"instance", func(in *core.Instance) { in.State = core.InstancePendingCreate; in.Fault = "x" }}, // a create in flight is not undone
		{"instance", func(in *core.Instance) { in.State = "bogus" }},
		{"runner", func(in *core.Instance) { in.Runner = core.RunnerIdle; in.Attempts = 9 }}, // done → idle
		{"runner", func(in *core.Instance) { in.Runner = "bogus"; in.ProviderID = "p" }},
	}
	for n, tc := range refused {
		_, err := s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error { tc.fn(in); return nil })
		var te *core.ErrTransition
		if !errors.As(err, &te) || te.Kind != tc.kind {
			t.Fatalf("case %d: want %s *core.ErrTransition, got %v", n, tc.kind, err)
		}
	}
	boom := errors.New("boom")
	_, err = s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error {
		in.Attempts, in.Fault, in.State = 42, "should not be written", core.InstanceRunning
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("fn error: got %v", err)
	}
	after, _ := s.GetInstance(ctx(t), i.ID)
	if after.Attempts != 0 || after.Fault != "" || after.ProviderID != "" || after.State != core.InstanceCreating ||
		after.Runner != core.RunnerDone || !after.UpdatedAt.Equal(mid.UpdatedAt) {
		t.Fatalf("refused update wrote something: %+v", after)
	}
}

func testInstanceSince(t *testing.T, s store.Store) {
	p := newChain(t, s)
	i := newInstance(t, s, p.ID, "r")
	step := func(fn func(*core.Instance)) core.Instance {
		t.Helper()
		time.Sleep(2 * time.Millisecond) // keep successive stamps distinct on coarse clocks
		out, err := s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error { fn(in); return nil })
		must(t, err)
		return out
	}
	a := step(func(in *core.Instance) { in.Attempts = 1 })
	sameTime(t, "state_since after field update", a.StateSince, i.StateSince)
	sameTime(t, "runner_since after field update", a.RunnerSince, i.RunnerSince)
	if !a.UpdatedAt.After(i.UpdatedAt) {
		t.Fatal("updated_at not stamped")
	}
	b := step(func(in *core.Instance) { in.State = core.InstanceCreating })
	if !b.StateSince.After(a.StateSince) {
		t.Fatal("state_since not stamped on state change")
	}
	sameTime(t, "runner_since after state change", b.RunnerSince, a.RunnerSince)
	c := step(func(in *core.Instance) { in.Runner = core.RunnerInstalling })
	if !c.RunnerSince.After(b.RunnerSince) {
		t.Fatal("runner_since not stamped on runner change")
	}
	// StateSince is "when State or Runner last changed" (core.Instance).
	if !c.StateSince.After(b.StateSince) {
		t.Fatal("state_since not stamped on runner change")
	}
	got, _ := s.GetInstance(ctx(t), i.ID)
	sameTime(t, "stored = returned state_since", got.StateSince, c.StateSince)
	sameTime(t, "stored = returned runner_since", got.RunnerSince, c.RunnerSince)
}

func testInstanceTokenHash(t *testing.T, s store.Store) {
	p := newChain(t, s)
	i := newInstance(t, s, p.ID, "r")
	newInstance(t, s, p.ID, "other")
	_, err := s.GetInstanceByTokenHash(ctx(t), "")
	wantErr(t, err, store.ErrNotFound, "empty hash must match nothing")
	_, err = s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error { in.TokenHash = "abc123"; return nil })
	must(t, err)
	got, err := s.GetInstanceByTokenHash(ctx(t), "abc123")
	must(t, err)
	if got.ID != i.ID || got.TokenHash != "abc123" || got.TokenUsed {
		t.Fatalf("by hash: %+v", got)
	}
	_, err = s.UpdateInstance(ctx(t), i.ID, func(in *core.Instance) error { in.TokenUsed = true; return nil })
	must(t, err)
	got, _ = s.GetInstance(ctx(t), i.ID)
	if !got.TokenUsed || got.TokenHash != "abc123" {
		t.Fatalf("token fields not stored: %+v", got)
	}
	_, err = s.GetInstanceByTokenHash(ctx(t), "zzz")
	wantErr(t, err, store.ErrNotFound, "unknown hash")
}

func testPurgeInstances(t *testing.T, s store.Store) {
	p := newChain(t, s)
	old := newInstance(t, s, p.ID, "old")
	live := newInstance(t, s, p.ID, "live")
	moveTo(t, s, old.ID, toDeleted...)
	n, err := s.PurgeInstances(ctx(t), time.Now().Add(-time.Hour))
	must(t, err)
	if n != 0 {
		t.Fatalf("purged %d instances updated after the cutoff", n)
	}
	time.Sleep(2 * time.Millisecond)
	n, err = s.PurgeInstances(ctx(t), time.Now())
	must(t, err)
	if n != 1 {
		t.Fatalf("purged %d, want 1", n)
	}
	_, err = s.GetInstance(ctx(t), old.ID)
	wantErr(t, err, store.ErrNotFound, "purged instance")
	_, err = s.GetInstance(ctx(t), live.ID)
	must(t, err)
}
