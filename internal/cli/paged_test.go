package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/api"
	"github.com/paddock-ci/paddock/internal/core"
)

// More jobs than two of the server's pages: the CLI follows the cursor.
func TestJobListPagesThrough(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx := context.Background()
	ent, _ := e.st.GetEntity(ctx, "acme/app")
	const total = 2*api.MaxPageSize + 5
	base := time.Now().Add(-time.Hour)
	for id := int64(1); id <= total; id++ {
		j := core.Job{ID: id, EntityID: ent.ID, State: core.JobQueued, ReceivedAt: base.Add(time.Duration(id) * time.Millisecond)}
		if _, err := e.st.UpsertJob(ctx, &j); err != nil {
			t.Fatal(err)
		}
	}
	all := decode[[]api.JobView](t, e.ok("-o", "json", "job", "list", "--limit", "0"))
	if len(all) != total || all[0].ID != total || all[total-1].ID != 1 {
		t.Fatalf("--limit 0: %d jobs", len(all))
	}
	seen := map[int64]bool{}
	for _, j := range all {
		if seen[j.ID] {
			t.Fatalf("job %d listed twice", j.ID)
		}
		seen[j.ID] = true
	}
	some := decode[[]api.JobView](t, e.ok("-o", "json", "job", "list", "--limit", "1200"))
	if len(some) != 1200 || some[1199].ID != total-1199 {
		t.Fatalf("--limit 1200: %d jobs", len(some))
	}
	if rows := strings.Count(e.ok("job", "list"), "\n"); rows != 51 {
		t.Fatalf("default job list: %d lines, want a header and 50 jobs", rows)
	}
}

func TestInstanceListLimit(t *testing.T) {
	e := newEnv(t)
	e.seed()
	ctx := context.Background()
	pool, _ := e.st.GetPool(ctx, "linux")
	for n := range 3 {
		i := core.Instance{Name: fmt.Sprintf("linux-%d", n), PoolID: pool.ID}
		if err := e.st.CreateInstance(ctx, &i); err != nil {
			t.Fatal(err)
		}
	}
	got := decode[[]api.InstanceView](t, e.ok("-o", "json", "instance", "list", "--limit", "2"))
	if len(got) != 2 || got[0].Name != "linux-0" || got[1].Name != "linux-1" {
		t.Fatalf("--limit 2: %+v", got)
	}
	if all := decode[[]api.InstanceView](t, e.ok("-o", "json", "instance", "list")); len(all) != 3 {
		t.Fatalf("all: %d", len(all))
	}
}
