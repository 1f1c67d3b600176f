package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// testModifyPool: concurrent read-modify-writes of one pool all land, and a
// refused change writes nothing.
func testModifyPool(t *testing.T, s store.Store) {
	p := newChain(t, s)
	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.ModifyPool(ctx(t), p.Name, func(p *core.Pool) error {
				p.Priority++
				p.Labels = append(p.Labels, "x")
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := s.GetPool(ctx(t), p.ID)
	must(t, err)
	if got.Priority != n || len(got.Labels) != len(p.Labels)+n {
		t.Fatalf("lost updates: priority %d, %d labels; want %d, %d", got.Priority, len(got.Labels), n, len(p.Labels)+n)
	}
	refused := errors.New("no")
	_, err = s.ModifyPool(ctx(t), p.ID, func(p *core.Pool) error { p.Priority = -1; return refused })
	if !errors.Is(err, refused) {
		t.Fatalf("fn error not returned: %v", err)
	}
	_, err = s.ModifyPool(ctx(t), p.ID, func(p *core.Pool) error { p.ID = "other"; return nil })
	if err == nil {
		t.Fatal("id change accepted")
	}
	if again, _ := s.GetPool(ctx(t), p.ID); again.Priority != n {
		t.Fatalf("refused change written: %+v", again)
	}
	_, err = s.ModifyPool(ctx(t), "nope", func(*core.Pool) error { return nil })
	wantErr(t, err, store.ErrNotFound, "modify missing pool")
}
