package lxd_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/lxd"
)

// A container tagged with this manager's controller id and one of its pools,
// which no instance accounts for (its store lost it), is deleted by the
// reconcile; a container of another controller in the same project stays.
func TestStrayContainerIsDeletedAndAnothersIsKept(t *testing.T) {
	s := newStack(t, image)
	pools, err := s.app.Store.ListPools(context.Background())
	if err != nil || len(pools) != 1 {
		t.Fatalf("pools = %v, %v", pools, err)
	}
	mk := func(cid, name string) {
		o := options(s.proj, cid)
		p, err := lxd.New(o)
		if err != nil {
			t.Fatal(err)
		}
		spec := provider.Spec{Name: name, ControllerID: cid, PoolID: pools[0].ID, Image: image,
			MetadataURL: "http://127.0.0.1:9/api/v1/metadata", CallbackURL: "http://127.0.0.1:9/api/v1/callbacks"}
		if err := lxd.CreateOnly(context.Background(), p, spec); err != nil {
			t.Fatal(err)
		}
	}
	mk("pdk-test-controller", "paddock-stray")
	mk("someone-else", "paddock-theirs")
	admin := lxd.NewAdmin(socket, s.proj)
	waitFor(t, "the stray container deleted by the reconcile", 2*time.Minute, func() bool {
		names, err := admin.Names(context.Background())
		return err == nil && !slices.Contains(names, "paddock-stray")
	})
	if names, err := admin.Names(context.Background()); err != nil || !slices.Contains(names, "paddock-theirs") {
		t.Fatalf("another controller's container was deleted: %v, %v", names, err)
	}
}
