package controller_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forge"
	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// Testers' case: a Gitea pool labelled Linux took runs-on: linux jobs and
// booted machines whose runners Gitea never offered the job. The controller
// must match with Gitea's rules, make no machine, and say why on the job.
func TestGiteaLabelMismatchMakesNoMachineAndSaysWhy(t *testing.T) {
	g := newGiteaStack(t, forgesim.Options{}, "Linux")
	ctx, st := g.ctx, g.st
	ev := forge.JobEvent{Action: "queued", Entity: forge.EntityRef{Repository: "acme/app"},
		Job: core.Job{ID: 11, Labels: []string{"linux"}, State: core.JobQueued, QueuedAt: time.Now()}}
	if _, err := g.ctl.HandleJobEvent(ctx, g.forge.ID, ev, time.Now()); err != nil {
		t.Fatal(err)
	}
	want := `pool "gt" has label "Linux"; Gitea matches case-sensitively`
	var note string
	testutil.Within(10*time.Second, func() bool {
		js, err := st.ListJobs(ctx, store.JobFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(js) == 1 {
			note = js[0].Note
		}
		return note != ""
	})
	if !strings.Contains(note, want) {
		t.Fatalf("job note %q; want it to contain %q", note, want)
	}
	insts, err := st.ListInstances(ctx, store.InstanceFilter{Live: true})
	if err != nil || len(insts) != 0 {
		t.Fatalf("instances %+v, %v; want none for a job Gitea would never offer the pool's runners", insts, err)
	}
}
