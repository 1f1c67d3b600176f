package controller

import (
	"slices"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestHoldSpent(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	job := func(id int64, ent string, recv time.Duration, labels ...string) core.Job {
		return core.Job{ID: id, EntityID: ent, ReceivedAt: t0.Add(recv), Labels: labels}
	}
	// The pool "linux" serves jobs labelled linux, "gpu" those labelled gpu,
	// "any" every job.
	serves := func(s spentRunner, j core.Job) bool { return s.poolID == "any" || slices.Contains(j.Labels, s.poolID) }
	jobs := []core.Job{
		job(3, "e1", 2*time.Second, "linux"),
		job(1, "e1", time.Second, "linux"),
		job(2, "e1", time.Second, "gpu"),
		job(4, "e2", 0, "linux"),
	}
	spent := func(ent, pool string, ago time.Duration) spentRunner {
		return spentRunner{entityID: ent, poolID: pool, at: t0.Add(10*time.Second - ago)}
	}
	now := t0.Add(10 * time.Second)
	for _, tc := range []struct {
		name      string
		spent     []spentRunner
		kept      []int64
		live      int
		lapseFrom time.Duration // lapse = now - this + holdLimit; -1: none
		jobs      []core.Job    // default: jobs above
	}{
		{"nothing spent plans every job", nil, []int64{3, 1, 2, 4}, 0, -1, nil},
		{"holds the oldest job its pool serves in its entity", []spentRunner{spent("e1", "linux", time.Second)},
			[]int64{3, 2, 4}, 1, time.Second, nil},
		{"two runners hold two jobs", []spentRunner{spent("e1", "linux", time.Second), spent("e1", "linux", 2*time.Second)},
			[]int64{2, 4}, 2, 2 * time.Second, nil},
		{"a job of another entity is not held", []spentRunner{spent("e2", "gpu", time.Second)},
			[]int64{3, 1, 2, 4}, 1, time.Second, nil},
		{"more runners than jobs hold what there is", []spentRunner{spent("e1", "gpu", 0), spent("e1", "gpu", 0)},
			[]int64{3, 1, 4}, 2, 0, nil},
		{"a general pool's runner leaves the oldest job to the only runner that could have taken it",
			[]spentRunner{spent("e1", "any", time.Second), spent("e1", "gpu", time.Second)},
			nil, 2, time.Second, []core.Job{job(5, "e1", 0, "gpu"), job(6, "e1", time.Second, "linux")}},
		{"a hold lapses after holdLimit", []spentRunner{spent("e1", "linux", holdLimit), spent("e1", "gpu", time.Second)},
			[]int64{3, 1, 4}, 1, time.Second, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := jobs
			if tc.jobs != nil {
				base = tc.jobs
			}
			in := slices.Clone(base)
			kept, live, lapse := holdSpent(now, in, tc.spent, serves)
			var ids []int64
			for _, j := range kept {
				ids = append(ids, j.ID)
			}
			if !slices.Equal(ids, tc.kept) {
				t.Errorf("kept %v, want %v", ids, tc.kept)
			}
			if len(live) != tc.live {
				t.Errorf("%d runners still hold, want %d", len(live), tc.live)
			}
			want := time.Time{}
			if tc.lapseFrom >= 0 {
				want = now.Add(-tc.lapseFrom + holdLimit)
			}
			if !lapse.Equal(want) {
				t.Errorf("lapse %v, want %v", lapse, want)
			}
			if !slices.EqualFunc(in, base, func(a, b core.Job) bool { return a.ID == b.ID }) {
				t.Error("the snapshot's job list was changed in place")
			}
		})
	}
}

// A runner that named its run (its job-started hook) holds a job of that run
// and no other; one that did not is a guess, fitted around the named ones.
func TestHoldSpentByRun(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	job := func(id, run, attempt int64, recv time.Duration) core.Job {
		return core.Job{ID: id, EntityID: "e", RunID: run, RunAttempt: attempt, Repository: "o/r",
			ReceivedAt: t0.Add(recv), Labels: []string{"linux"}}
	}
	jobs := []core.Job{job(1, 100, 1, 0), job(2, 200, 1, time.Second), job(3, 300, 2, 2*time.Second)}
	serves := func(spentRunner, core.Job) bool { return true }
	named := func(run, attempt int64, repo string) spentRunner {
		return spentRunner{entityID: "e", poolID: "p", at: t0, ran: &core.RunRef{RunID: run, RunAttempt: attempt, Repository: repo}}
	}
	guess := spentRunner{entityID: "e", poolID: "p", at: t0}
	for _, tc := range []struct {
		name  string
		spent []spentRunner
		kept  []int64
	}{
		{"a guess holds the oldest", []spentRunner{guess}, []int64{2, 3}},
		{"a named run holds its own job, not the oldest", []spentRunner{named(200, 1, "o/r")}, []int64{1, 3}},
		{"a run with no queued job holds nothing", []spentRunner{named(999, 1, "o/r")}, []int64{1, 2, 3}},
		{"another attempt of the run is another job", []spentRunner{named(300, 1, "")}, []int64{1, 2, 3}},
		{"the same attempt is held", []spentRunner{named(300, 2, "")}, []int64{1, 2}},
		{"another repository's run is not held", []spentRunner{named(100, 1, "x/y")}, []int64{1, 2, 3}},
		{"a guess leaves the named runner its job, whatever the order",
			[]spentRunner{guess, named(100, 1, "o/r")}, []int64{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, _, _ := holdSpent(t0, slices.Clone(jobs), tc.spent, serves)
			var ids []int64
			for _, j := range kept {
				ids = append(ids, j.ID)
			}
			if !slices.Equal(ids, tc.kept) {
				t.Errorf("kept %v, want %v", ids, tc.kept)
			}
		})
	}
}

func TestPoolServesBySize(t *testing.T) {
	p := core.Pool{ID: "p", Name: "linux", EntityID: "e", Enabled: true, Labels: []string{"linux"}, Sizes: &core.SizeLimits{MaxCPU: 8, MaxMemoryGB: 32}}
	pools := map[string]core.Pool{"p": p}
	sized := core.Job{Labels: []string{"self-hosted", "linux", "4cpu-16gb"}}
	plain := core.Job{Labels: []string{"self-hosted", "linux"}}
	for _, tc := range []struct {
		name   string
		size   string
		job    core.Job
		serves bool
	}{
		{"an unsized machine takes an unsized job", "", plain, true},
		{"an unsized machine cannot take a sized job (it lacks the label)", "", sized, false},
		{"a sized machine takes a job of its size", "4cpu-16gb", sized, true},
		{"a sized machine also takes an unsized job", "4cpu-16gb", plain, true},
		{"a machine of another size cannot take it", "2cpu-8gb", sized, false},
	} {
		s := spentRunner{entityID: "e", poolID: "p", size: tc.size}
		if got := poolServes(pools, nil, s, tc.job); got != tc.serves {
			t.Errorf("%s: serves = %v, want %v", tc.name, got, tc.serves)
		}
	}
}
