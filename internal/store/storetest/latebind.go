package storetest

import (
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// testLateBinding: an unbound warm machine is bound once, the binding
// survives a read back, and no update rebinds it or makes a machine unbound.
func testLateBinding(t *testing.T, s store.Store) {
	p := newChain(t, s)
	i := core.Instance{Name: "warm-1", PoolID: p.ID, Unbound: true}
	must(t, s.CreateInstance(ctx(t), &i))
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	_, err := s.UpdateInstance(ctx(t), i.Name, func(in *core.Instance) error {
		in.EntityID, in.BoundJobID, in.BoundAt = "e1", 7, at
		return nil
	})
	must(t, err)
	got, err := s.GetInstance(ctx(t), i.Name)
	must(t, err)
	if !got.Unbound || got.EntityID != "e1" || got.BoundJobID != 7 || !got.BoundAt.Equal(at) {
		t.Fatalf("binding read back as %+v", got)
	}
	for what, fn := range map[string]func(*core.Instance){
		"rebind to another job":    func(in *core.Instance) { in.BoundJobID = 8 },
		"rebind to another entity": func(in *core.Instance) { in.EntityID = "e2" },
		"unbind":                   func(in *core.Instance) { in.BoundJobID, in.EntityID = 0, "" },
		"clear unbound":            func(in *core.Instance) { in.Unbound = false },
	} {
		if _, err := s.UpdateInstance(ctx(t), i.Name, func(in *core.Instance) error { fn(in); return nil }); err == nil {
			t.Fatalf("%s: accepted", what)
		}
	}
	cold := core.Instance{Name: "cold-1", PoolID: p.ID}
	must(t, s.CreateInstance(ctx(t), &cold))
	if _, err := s.UpdateInstance(ctx(t), cold.Name, func(in *core.Instance) error { in.Unbound = true; return nil }); err == nil {
		t.Fatal("a machine made bound became unbound")
	}
}
