package controller

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/machineapi"
	"github.com/paddock-ci/paddock/internal/scheduler"
)

// DefaultBindWait bounds one long-poll of an unbound warm machine for its
// runner config: well under the server's write_timeout (default 2 min), so
// the machine sees a clean "ask again" rather than a cut connection.
const DefaultBindWait = 50 * time.Second

// binders wakes the metadata requests of machines waiting unbound when the
// loop binds them. It is in memory only: the binding itself is in the store,
// so a machine whose request was not woken (a restart, or a request served
// by another replica) sees its binding when it asks again.
type binders struct {
	mu sync.Mutex
	ch map[string]chan struct{} // instance name → closed when bound
}

func (b *binders) wait(name string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ch == nil {
		b.ch = map[string]chan struct{}{}
	}
	ch := b.ch[name]
	if ch == nil {
		ch = make(chan struct{})
		b.ch[name] = ch
	}
	return ch
}

func (b *binders) wake(name string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ch := b.ch[name]; ch != nil {
		close(ch)
		delete(b.ch, name)
	}
}

// forget drops a waiter nobody is woken through any more (its request ended).
func (b *binders) forget(name string, ch <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur := b.ch[name]; cur != nil && (<-chan struct{})(cur) == ch {
		delete(b.ch, name)
	}
}

// bindWaiting records, before anything else happens, each binding the
// scheduler chose of a waiting unbound machine to a queued job, and updates
// snap so the decision that follows counts the machine as the job's. The
// store re-checks that the machine still waits (never bound, token unspent),
// so a machine is bound at most once whatever ran before a crash. The forge
// is not called here: the machine's own request mints its config, for the
// bound entity, right after it is woken (one forge call per assignment).
func (c *Controller) bindWaiting(ctx context.Context, snap *scheduler.Snapshot) {
	as := scheduler.Assign(*snap)
	if len(as) == 0 {
		return
	}
	idx := make(map[string]int, len(snap.Instances))
	for n := range snap.Instances {
		idx[snap.Instances[n].Name] = n
	}
	now := c.o.Now()
	// snap's slices are the loop's kept copy (livestate.go): change a clone.
	snap.Instances = slices.Clone(snap.Instances)
	for _, a := range as {
		got, err := c.o.Store.UpdateInstance(ctx, a.InstanceName, func(i *core.Instance) error {
			if !scheduler.Waiting(i) {
				return errSkip
			}
			i.EntityID, i.BoundJobID, i.BoundAt = a.EntityID, a.JobID, now
			return nil
		})
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			c.log.Error("record late binding", "instance", a.InstanceName, "job", a.JobID, "err", err)
			continue
		}
		c.log.Info("warm machine bound", "instance", a.InstanceName, "entity", a.EntityID, "job", a.JobID)
		if n, ok := idx[a.InstanceName]; ok {
			snap.Instances[n] = got
		}
		c.binds.wake(a.InstanceName)
	}
}

// awaitBinding holds an unbound machine's config request until the loop
// binds the machine or BindWait passes (then the machine asks again). It
// returns the instance as bound.
func (c *Controller) awaitBinding(ctx context.Context, inst core.Instance) (core.Instance, error) {
	ch := c.binds.wait(inst.Name)
	defer c.binds.forget(inst.Name, ch)
	// Read again after registering: a binding recorded in between would
	// otherwise be missed until the next request.
	cur, err := c.o.Store.GetInstance(ctx, inst.Name)
	if err != nil {
		return core.Instance{}, err
	}
	if !waitsUnbound(cur) {
		return cur, nil
	}
	c.Notify() // a job may already be waiting for this machine
	t := time.NewTimer(c.o.BindWait)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		return core.Instance{}, machineapi.ErrNotBound
	case <-ctx.Done():
		return core.Instance{}, ctx.Err()
	}
	return c.o.Store.GetInstance(ctx, inst.Name)
}

func waitsUnbound(i core.Instance) bool { return i.Unbound && i.BoundJobID == 0 }
