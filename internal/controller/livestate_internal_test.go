package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
	"github.com/paddock-ci/paddock/internal/testutil/teststore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// replicas opens two handles on one database, as two managers have: the
// first is the leader's (the copy reads through it), the second another
// replica's.
var replicas = []struct {
	name string
	open func(t *testing.T) (store.Store, store.Store)
}{
	{"sqlite", func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "p.db")
		return teststore.OpenAt(t, path), teststore.OpenAt(t, path)
	}},
	{"postgres", func(t *testing.T) (store.Store, store.Store) {
		dsn := pgtest.DB(t)
		return teststore.OpenPostgres(t, dsn), teststore.OpenPostgres(t, dsn)
	}},
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seedPool makes a forge, an entity and a pool and returns the pool.
func seedPool(t *testing.T, st store.Store, name string) core.Pool {
	f := core.Forge{Name: "gh-" + name, Kind: core.ForgeGitHub, APIURL: "http://127.0.0.1:1",
		WebhookSecret: "secret-" + name, Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	must(t, st.CreateForge(t.Context(), &f))
	e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "octo/" + name}
	must(t, st.CreateEntity(t.Context(), &e))
	p := core.Pool{Name: name, EntityID: e.ID, Provider: "mem", Image: "img", Flavor: "small",
		OSType: "linux", Arch: "amd64", Labels: []string{"linux"}, MaxRunners: 100, Enabled: true}
	must(t, st.CreatePool(t.Context(), &p))
	return p
}

func queued(entity string, id int64) *core.Job {
	return &core.Job{ID: id, EntityID: entity, RunID: id, RunAttempt: 1, Repository: "octo/repo",
		Name: "build", Labels: []string{"linux"}, State: core.JobQueued}
}

// sameAsFullRead fails unless the copy's view equals listing everything.
func sameAsFullRead(t *testing.T, l *liveState, st store.Store) {
	t.Helper()
	insts, jobs, err := l.read(t.Context(), st)
	must(t, err)
	wantI, err := st.ListInstances(t.Context(), store.InstanceFilter{Live: true})
	must(t, err)
	wantJ, err := st.ListJobs(t.Context(), store.JobFilter{States: []core.JobState{core.JobQueued}})
	must(t, err)
	for _, c := range []struct{ what, got, want string }{
		{"instances", encode(t, insts), encode(t, wantI)},
		{"jobs", encode(t, jobs), encode(t, wantJ)},
	} {
		if c.got != c.want {
			t.Fatalf("%s differ from a full read\n got: %s\nwant: %s", c.what, c.got, c.want)
		}
	}
}

func encode(t *testing.T, v any) string {
	var b bytes.Buffer
	must(t, json.NewEncoder(&b).Encode(v))
	return b.String()
}

func TestLiveStateSeesOtherReplicasWrites(t *testing.T) {
	for _, r := range replicas {
		t.Run(r.name, func(t *testing.T) {
			leader, other := r.open(t)
			p := seedPool(t, leader, "a")
			l := newLiveState()
			sameAsFullRead(t, l, leader)
			i := core.Instance{Name: "m-1", PoolID: p.ID}
			must(t, other.CreateInstance(t.Context(), &i))
			_, err := other.UpsertJob(t.Context(), queued(p.EntityID, 1))
			must(t, err)
			insts, jobs, err := l.read(t.Context(), leader)
			must(t, err)
			if len(insts) != 1 || insts[0].Name != "m-1" || len(jobs) != 1 {
				t.Fatalf("other replica's writes not seen: %d instances, %d jobs", len(insts), len(jobs))
			}
			_, err = other.UpdateInstance(t.Context(), i.ID, func(i *core.Instance) error {
				i.State = core.InstancePendingDelete
				return nil
			})
			must(t, err)
			j := queued(p.EntityID, 1)
			j.State = core.JobInProgress
			_, err = other.UpsertJob(t.Context(), j)
			must(t, err)
			insts, jobs, err = l.read(t.Context(), leader)
			must(t, err)
			if len(insts) != 1 || insts[0].State != core.InstancePendingDelete || len(jobs) != 0 {
				t.Fatalf("updates not applied: %+v, %d jobs", insts, len(jobs))
			}
			if n := l.reloads.Load(); n != 1 {
				t.Fatalf("%d full reads; want the first only (changes by delta)", n)
			}
		})
	}
}

func TestLiveStateDropsRowsRemovedBehindItsBack(t *testing.T) {
	for _, r := range replicas {
		t.Run(r.name, func(t *testing.T) {
			leader, other := r.open(t)
			p := seedPool(t, leader, "a")
			i := core.Instance{Name: "m-1", PoolID: p.ID}
			must(t, leader.CreateInstance(t.Context(), &i))
			// A queued job of an entity with no pool: DeleteEntity removes it.
			f := core.Forge{Name: "gh-b", Kind: core.ForgeGitHub, APIURL: "http://127.0.0.1:1", WebhookSecret: "s-b",
				Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
			must(t, leader.CreateForge(t.Context(), &f))
			e := core.Entity{ForgeID: f.ID, Kind: core.EntityRepository, Name: "octo/b"}
			must(t, leader.CreateEntity(t.Context(), &e))
			_, err := leader.UpsertJob(t.Context(), queued(e.ID, 9))
			must(t, err)
			l := newLiveState()
			if insts, jobs, err := l.read(t.Context(), leader); err != nil || len(insts) != 1 || len(jobs) != 1 {
				t.Fatalf("start: %d instances, %d jobs, %v", len(insts), len(jobs), err)
			}
			// Between two passes the instance is deleted and purged, and the
			// entity removed with its job: no row is left to report either.
			for _, st := range []core.InstanceState{core.InstancePendingDelete, core.InstanceDeleting, core.InstanceDeleted} {
				_, err := other.UpdateInstance(t.Context(), i.ID, func(i *core.Instance) error { i.State = st; return nil })
				must(t, err)
			}
			time.Sleep(2 * time.Millisecond) // PurgeInstances compares updated_at with a later instant
			n, err := other.PurgeInstances(t.Context(), time.Now())
			must(t, err)
			if n != 1 {
				t.Fatalf("purged %d", n)
			}
			must(t, other.DeleteEntity(t.Context(), e.ID))
			sameAsFullRead(t, l, leader)
			if insts, jobs, _ := l.read(t.Context(), leader); len(insts)+len(jobs) != 0 {
				t.Fatalf("removed rows kept: %+v %+v", insts, jobs)
			}
		})
	}
}

// TestLiveStateMatchesFullRead: after any sequence of writes by two replicas,
// the copy equals a full read, and it got there by deltas.
func TestLiveStateMatchesFullRead(t *testing.T) {
	for _, r := range replicas {
		t.Run(r.name, func(t *testing.T) {
			leader, other := r.open(t)
			pools := []core.Pool{seedPool(t, leader, "a"), seedPool(t, leader, "b")}
			seed := time.Now().UnixNano()
			t.Logf("seed %d", seed)
			rng := rand.New(rand.NewPCG(uint64(seed), 1))
			l := newLiveState()
			sameAsFullRead(t, l, leader)
			var names []string
			var jobIDs []int64
			purges := 0
			for step := range 300 {
				st := []store.Store{leader, other}[rng.IntN(2)]
				p := pools[rng.IntN(len(pools))]
				switch op := rng.IntN(10); {
				case op < 2 || len(names) == 0:
					batch := []*core.Instance{}
					for range 1 + rng.IntN(3) {
						name := "m-" + string(rune('a'+rng.IntN(26))) + "-" + time.Now().Format("150405.000000000")
						batch = append(batch, &core.Instance{Name: name, PoolID: p.ID})
						names = append(names, name)
					}
					must(t, st.CreateInstances(t.Context(), batch))
				case op < 5:
					name := names[rng.IntN(len(names))]
					next := core.InstanceStates[rng.IntN(len(core.InstanceStates))]
					_, err := st.UpdateInstance(t.Context(), name, func(i *core.Instance) error {
						i.State, i.Fault = next, "step"
						return nil
					})
					var tr *core.ErrTransition
					if err != nil && !errors.As(err, &tr) {
						t.Fatal(err)
					}
				case op < 7 || len(jobIDs) == 0:
					id := int64(step + 1)
					jobIDs = append(jobIDs, id)
					_, err := st.UpsertJob(t.Context(), queued(pools[0].EntityID, id))
					must(t, err)
				case op < 9:
					j := queued(pools[0].EntityID, jobIDs[rng.IntN(len(jobIDs))])
					j.State = []core.JobState{core.JobInProgress, core.JobCompleted}[rng.IntN(2)]
					_, err := st.UpsertJob(t.Context(), j)
					must(t, err)
				default:
					keys := []store.JobKey{{EntityID: pools[0].EntityID, ID: jobIDs[rng.IntN(len(jobIDs))]}}
					must(t, st.UpdateJobs(t.Context(), keys, func(j *core.Job) error {
						j.Note = "note " + time.Now().String()
						return nil
					}))
				}
				if step%50 == 49 {
					// Now and then, a purge removes deleted rows outright.
					n, err := st.PurgeInstances(t.Context(), time.Now())
					must(t, err)
					if n > 0 {
						purges++
					}
				}
				if rng.IntN(3) == 0 {
					sameAsFullRead(t, l, leader)
				}
			}
			sameAsFullRead(t, l, leader)
			if n := l.reloads.Load(); n > int64(1+purges) {
				t.Fatalf("%d full reads for %d purges: the deltas did not keep the copy", n, purges)
			}
		})
	}
}

// BenchmarkPassRead: what one decision pays to learn the live instances and
// queued jobs at 10,000 live instances and 1,000 queued jobs, with one
// instance changed since the last pass: by deltas (the loop) or by listing
// everything (before livestate.go).
func BenchmarkPassRead(b *testing.B) {
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "p.db"), box)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	f := core.Forge{Name: "gh", Kind: core.ForgeGitHub, APIURL: "http://127.0.0.1:1", WebhookSecret: "s",
		Credential: core.Credential{Kind: core.CredentialPAT, Token: "t"}}
	e := core.Entity{Kind: core.EntityRepository, Name: "octo/a"}
	p := core.Pool{Name: "a", Provider: "mem", Image: "img", Flavor: "small", OSType: "linux", Arch: "amd64",
		Labels: []string{"linux"}, MaxRunners: 100000, Enabled: true}
	if err := st.CreateForge(ctx, &f); err != nil {
		b.Fatal(err)
	}
	e.ForgeID = f.ID
	if err := st.CreateEntity(ctx, &e); err != nil {
		b.Fatal(err)
	}
	p.EntityID = e.ID
	if err := st.CreatePool(ctx, &p); err != nil {
		b.Fatal(err)
	}
	var batch []*core.Instance
	for n := range 10000 {
		batch = append(batch, &core.Instance{Name: "m-" + strconv.Itoa(n), PoolID: p.ID, Labels: []string{"linux"},
			State: core.InstanceRunning, Runner: core.RunnerActive})
	}
	if err := st.CreateInstances(ctx, batch); err != nil {
		b.Fatal(err)
	}
	for id := range int64(1000) {
		if _, err := st.UpsertJob(ctx, queued(e.ID, id+1)); err != nil {
			b.Fatal(err)
		}
	}
	touch := func(n int) {
		if _, err := st.UpdateInstance(ctx, batch[n%len(batch)].ID, func(i *core.Instance) error {
			i.Fault = strconv.Itoa(n)
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("deltas", func(b *testing.B) {
		l := newLiveState()
		n := 0
		for b.Loop() {
			b.StopTimer()
			touch(n)
			n++
			b.StartTimer()
			if _, _, err := l.read(ctx, st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		n := 0
		for b.Loop() {
			b.StopTimer()
			touch(n)
			n++
			b.StartTimer()
			if _, err := st.ListInstances(ctx, store.InstanceFilter{Live: true}); err != nil {
				b.Fatal(err)
			}
			if _, err := st.ListJobs(ctx, store.JobFilter{States: []core.JobState{core.JobQueued}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSnapshotReadsAfreshAfterLeadershipOrReconcile: a pass while this
// replica does not lead, a new Run (a new term) and the periodic reconcile
// each make the next pass read everything; other passes read deltas.
func TestSnapshotReadsAfreshAfterLeadershipOrReconcile(t *testing.T) {
	leader, other := replicas[0].open(t)
	p := seedPool(t, leader, "a")
	var leading atomic.Bool
	leading.Store(true)
	c := New(Options{Store: leader, Leading: leading.Load, Forges: noForges{}})
	pass := func() []core.Instance {
		t.Helper()
		snap, err := c.snapshot(t.Context(), time.Now())
		must(t, err)
		return snap.Instances
	}
	pass()
	i := core.Instance{Name: "m-1", PoolID: p.ID}
	must(t, other.CreateInstance(t.Context(), &i))
	if got := pass(); len(got) != 1 || c.live.reloads.Load() != 1 {
		t.Fatalf("delta pass: %d instances, %d full reads", len(got), c.live.reloads.Load())
	}
	leading.Store(false)
	pass()
	leading.Store(true)
	pass()
	if n := c.live.reloads.Load(); n < 3 {
		t.Fatalf("%d full reads; a pass while following and the first one leading again must read everything", n)
	}
	before := c.live.reloads.Load()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for c.live.reloads.Load() == before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if c.live.reloads.Load() == before {
		t.Fatal("a new Run (leadership term) did not read everything")
	}
}

// noForges answers that no forge can be reached: the reconcile Run starts
// with then skips the forges, which this test is not about.
type noForges struct{}

func (noForges) Client(context.Context, string) (forge.Client, error) {
	return nil, errors.New("no forges in this test")
}
