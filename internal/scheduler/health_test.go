package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
)

func TestCreateBackoffDoublesToCap(t *testing.T) {
	want := []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second}
	for n, w := range want {
		if got := CreateBackoff(n); got != w {
			t.Errorf("CreateBackoff(%d) = %v, want %v", n, got, w)
		}
	}
	if got := CreateBackoff(9); got != 256*time.Second {
		t.Errorf("CreateBackoff(9) = %v, want 4m16s", got)
	}
	for _, n := range []int{10, 11, 50, 1 << 20} {
		if got := CreateBackoff(n); got != CreateBackoffMax {
			t.Errorf("CreateBackoff(%d) = %v, want the cap %v", n, got, CreateBackoffMax)
		}
	}
}

func TestCreateFailedCountsOncePerBackoffStep(t *testing.T) {
	var h PoolHealth
	h = h.CreateFailed(now, "quota exceeded")
	if h.Failures != 1 || !h.Since.Equal(now) || !h.NextCreateAt.Equal(now.Add(time.Second)) || h.LastError != "quota exceeded" {
		t.Fatalf("after first failure: %+v", h)
	}
	// Parallel creates of the same burst failing a moment later: same step.
	h = h.CreateFailed(now.Add(100*time.Millisecond), "quota exceeded (2)")
	if h.Failures != 1 || !h.NextCreateAt.Equal(now.Add(time.Second)) || h.LastError != "quota exceeded (2)" {
		t.Fatalf("failure during backoff deepened it: %+v", h)
	}
	// The probe after the pause fails: the pause doubles.
	at := now.Add(time.Second)
	h = h.CreateFailed(at, "quota exceeded")
	if h.Failures != 2 || !h.NextCreateAt.Equal(at.Add(2*time.Second)) || !h.Since.Equal(now) {
		t.Fatalf("after probe failure: %+v", h)
	}
	if !h.Failing() || (PoolHealth{}).Failing() {
		t.Fatal("Failing() wrong")
	}
}

func failing(pool string, failures int, next time.Time) map[string]PoolHealth {
	return map[string]PoolHealth{"id-" + pool: {Failures: failures, NextCreateAt: next, LastError: "boom", Since: now.Add(-time.Hour)}}
}

const backingOff = `pool "a" is backing off: its machine creates keep failing (see paddock pool list)`

func TestDecideFailingPoolBacksOff(t *testing.T) {
	later := now.Add(4 * time.Second)
	runCases(t, []decideCase{
		{
			name: "no create before NextCreateAt; jobs say why; wake then",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1))}, Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux")},
				Health: failing("a", 3, later)},
			want: summary{Notes: []string{"1>a: " + backingOff, "2>a: " + backingOff}},
			wake: later,
		},
		{
			name: "one probe create once due",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", minIdle(1))}, Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux")},
				Health: failing("a", 3, now)},
			want: summary{Creates: []string{"a//job"}, Notes: []string{"1>a", "2>a: " + backingOff}},
		},
		{
			name: "no probe while a create is in flight",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux")},
				Instances: []core.Instance{mkInst("i1", "a", core.InstanceCreating, rPend, time.Minute)},
				Health:    failing("a", 3, now.Add(-time.Minute))},
			want: summary{Notes: []string{"1>a", "2>a: " + backingOff}},
		},
		{
			// The new machine covers the job, so the errored one is surplus:
			// removed rather than retried later into an idle spare.
			name: "the probe goes to a new machine; the due retry it replaces is removed",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(1, "linux")}, MaxCreateAttempts: 5,
				Instances: []core.Instance{mkInst("e1", "a", errSt, rPend, time.Minute, attempts(1, now))},
				Health:    failing("a", 1, now)},
			want: summary{Creates: []string{"a//job"}, Deletes: []string{"e1:scale_down"}, Notes: []string{"1>a"}},
		},
		{
			name: "the probe goes to a due retry when no new machine is wanted",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", maxRunners(2))}, Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux")},
				MaxCreateAttempts: 5,
				Instances: []core.Instance{
					mkInst("e1", "a", errSt, rPend, 2*time.Minute, attempts(2, now)),
					mkInst("e2", "a", errSt, rPend, time.Minute, attempts(1, now)),
				},
				Health: failing("a", 2, now)},
			want: summary{Retries: []string{"e1"}, Notes: []string{"1>a: " + backingOff, "2>a: " + backingOff}},
		},
		{
			// The retry would come up idle and be scaled down by the next
			// decision: a provider call for nothing, and a decision that
			// undoes the one before.
			name: "no retry for a pool that wants no machine: the errored one is removed",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, MaxCreateAttempts: 5,
				Instances: []core.Instance{mkInst("e1", "a", errSt, rPend, time.Minute, attempts(1, now))},
				Health:    failing("a", 1, now)},
			want: summary{Deletes: []string{"e1:scale_down"}},
		},
		{
			name: "a job spills over to a healthy pool",
			snap: Snapshot{Pools: []core.Pool{mkPool("a", priority(2)), mkPool("b")}, Jobs: []core.Job{mkJob(1, "linux")},
				Health: failing("a", 1, later)},
			want: summary{Creates: []string{"b//job"}, Notes: []string{"1>b"}},
			wake: later,
		},
		{
			name: "healthy pools are not limited",
			snap: Snapshot{Pools: []core.Pool{mkPool("a")}, Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux")},
				Health: map[string]PoolHealth{"id-a": {}}},
			want: summary{Creates: []string{"a//job", "a//job"}, Notes: []string{"1>a", "2>a"}},
		},
	})
}

// instanceBackoff mirrors the controller's per-instance retry pause.
func instanceBackoff(attempts int) time.Duration {
	return min(time.Second<<min(max(attempts-1, 0), 9), 5*time.Minute)
}

// simulateFailingProvider plays the controller's loop against a provider
// whose every create fails at once, on a simulated clock, for span: each
// decision is applied, every create or retry is a provider call that fails
// (the instance goes to error with its own backoff; the pool's health records
// the failure if track is set), deletes succeed, and the loop decides again
// at once after any action (a finished call notifies it) or else at NextWake.
// It returns the provider create calls made.
func simulateFailingProvider(t *testing.T, span time.Duration, track bool) int {
	s := Snapshot{Now: now, Pools: []core.Pool{mkPool("a", maxRunners(5))}, MaxCreateAttempts: 5,
		Jobs: []core.Job{mkJob(1, "linux"), mkJob(2, "linux")}}
	var health PoolHealth
	calls, seq := 0, 0
	fail := func(in *core.Instance) {
		calls++
		in.State, in.StateSince = core.InstanceError, s.Now
		in.Attempts++
		in.NextAttemptAt = s.Now.Add(instanceBackoff(in.Attempts))
		if track {
			health = health.CreateFailed(s.Now, "quota exceeded")
		}
	}
	for steps := 0; s.Now.Before(now.Add(span)); steps++ {
		if steps > 100000 {
			t.Fatal("simulation does not settle")
		}
		if track {
			s.Health = map[string]PoolHealth{"id-a": health}
		}
		d := Decide(s)
		byName := map[string]int{}
		for i, in := range s.Instances {
			byName[in.Name] = i
		}
		for _, r := range d.Retries {
			fail(&s.Instances[byName[r.InstanceName]])
		}
		var kept []core.Instance
		gone := map[string]bool{}
		for _, del := range d.Deletes {
			gone[del.InstanceName] = true
		}
		for _, in := range s.Instances {
			if !gone[in.Name] {
				kept = append(kept, in)
			}
		}
		s.Instances = kept
		for _, c := range d.Creates {
			seq++
			in := core.Instance{Name: fmt.Sprintf("m%05d", seq),
				PoolID: c.PoolID, Runner: core.RunnerPending, CreatedAt: s.Now}
			fail(&in)
			s.Instances = append(s.Instances, in)
		}
		if len(d.Creates)+len(d.Retries)+len(d.Deletes) > 0 {
			continue // a finished call wakes the loop at once
		}
		if d.NextWake.IsZero() {
			break
		}
		s.Now = d.NextWake
	}
	return calls
}

// A provider that fails every create is called a handful of times a minute,
// not in a loop; without the pool's health (as before) it is called far more.
func TestFailingProviderIsCalledRarely(t *testing.T) {
	perMinute := simulateFailingProvider(t, time.Minute, true)
	if perMinute > 12 {
		t.Errorf("%d create calls in the first simulated minute, want at most 12", perMinute)
	}
	hour := simulateFailingProvider(t, time.Hour, true)
	if hour > 30 {
		t.Errorf("%d create calls in a simulated hour, want at most 30 (5 min cap)", hour)
	}
	untracked := simulateFailingProvider(t, time.Minute, false)
	if untracked <= 3*perMinute {
		t.Errorf("control: without pool health %d calls a minute, not many more than %d with it", untracked, perMinute)
	}
	t.Logf("create calls: first minute %d, first hour %d; first minute without pool health %d", perMinute, hour, untracked)
}
