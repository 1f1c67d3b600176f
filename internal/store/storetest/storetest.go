// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's test calls Run with a function that opens a fresh, empty
// store; Run closes each store it opens.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/store"
)

// Run runs the whole suite; each subtest gets its own fresh store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Forges", testForges},
		{"ForgeDeleteReferenced", testForgeDeleteReferenced},
		{"ForgeSharedWebhookSecret", testForgeSharedSecret},
		{"Entities", testEntities},
		{"Pools", testPools},
		{"PoolDeleteReferenced", testPoolDeleteReferenced},
		{"ModifyPool", testModifyPool},
		{"Tenants", testTenants},
		{"InstanceCRUD", testInstanceCRUD},
		{"LateBinding", testLateBinding},
		{"InstanceList", testInstanceList},
		{"InstanceTransitions", testInstanceTransitions},
		{"InstanceRefusedWritesNothing", testInstanceRefused},
		{"InstanceSinceStamps", testInstanceSince},
		{"InstanceTokenHash", testInstanceTokenHash},
		{"PurgeInstances", testPurgeInstances},
		{"JobInsert", testJobInsert},
		{"JobForwardMerge", testJobForward},
		{"JobBackwardIgnored", testJobBackward},
		{"JobSameStateMerge", testJobSameState},
		{"JobList", testJobList},
		{"UpdateJob", testUpdateJob},
		{"UpdateJobs", testUpdateJobs},
		{"Deliveries", testDeliveries},
		{"JobPages", testJobPages},
		{"JobsByID", testJobsByID},
		{"InstancePages", testInstancePages},
		{"PurgeJobs", testPurgeJobs},
		{"PurgeMany", testPurgeMany},
		{"Meta", testMeta},
		{"Events", testEvents},
		{"EventsPrune", testEventsPrune},
		{"EventsConcurrent", testEventsConcurrent},
		{"ConcurrentUpdateInstance", testConcurrentUpdate},
		{"ConcurrentCreateSameName", testConcurrentCreate},
		{"Usage", testUsage},
		{"UsageRecordedTwice", testUsageTwice},
		{"Changes", testChanges},
		{"ChangesRemoved", testChangesRemoved},
		{"ChangesLateCommit", testChangesLateCommit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

// wantErr fails unless err wraps target.
func wantErr(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: want %v, got %v", what, target, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Fatalf("%s: got %v want %v", what, got, want)
	}
}

func newForge(t *testing.T, s store.Store, name string) core.Forge {
	t.Helper()
	f := core.Forge{
		Name: name, Kind: core.ForgeGitHub,
		APIURL: "https://api.github.com/", WebURL: "https://github.com/",
		WebhookSecret: "whsec-" + name,
		Credential:    core.Credential{Kind: core.CredentialPAT, Token: "ghp_" + name},
	}
	must(t, s.CreateForge(ctx(t), &f))
	return f
}

func newEntity(t *testing.T, s store.Store, forgeID, name string) core.Entity {
	t.Helper()
	e := core.Entity{ForgeID: forgeID, Kind: core.EntityRepository, Name: name, Intake: core.IntakeWebhook}
	must(t, s.CreateEntity(ctx(t), &e))
	return e
}

func newPool(t *testing.T, s store.Store, entityID, name string) core.Pool {
	t.Helper()
	p := core.Pool{Name: name, EntityID: entityID, Provider: "fake", Image: "ubuntu", Flavor: "small",
		OSType: "linux", Arch: "amd64", Labels: []string{"self-hosted", "linux"}, MaxRunners: 5, Enabled: true}
	must(t, s.CreatePool(ctx(t), &p))
	return p
}

// newChain makes a forge, an entity and a pool and returns the pool.
func newChain(t *testing.T, s store.Store) core.Pool {
	t.Helper()
	f := newForge(t, s, "gh")
	e := newEntity(t, s, f.ID, "octo/repo")
	return newPool(t, s, e.ID, "pool-a")
}

func newInstance(t *testing.T, s store.Store, poolID, name string) core.Instance {
	t.Helper()
	i := core.Instance{Name: name, PoolID: poolID, Labels: []string{"self-hosted"}}
	must(t, s.CreateInstance(ctx(t), &i))
	return i
}

// moveTo walks an instance through the state machine along path.
func moveTo(t *testing.T, s store.Store, ref string, path ...core.InstanceState) core.Instance {
	t.Helper()
	var out core.Instance
	for _, st := range path {
		var err error
		out, err = s.UpdateInstance(ctx(t), ref, func(i *core.Instance) error { i.State = st; return nil })
		if err != nil {
			t.Fatalf("move %s to %s: %v", ref, st, err)
		}
	}
	return out
}

var toDeleted = []core.InstanceState{core.InstancePendingDelete, core.InstanceDeleting, core.InstanceDeleted}

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}

func eqStrings(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s: got %v want %v", what, got, want)
	}
}
