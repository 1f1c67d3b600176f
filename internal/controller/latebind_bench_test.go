package controller_test

import (
	"slices"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/core"
	"github.com/paddock-ci/paddock/internal/forgesim"
)

func apiCalls(st forgesim.Stats) int {
	n := 0
	for tmpl := range st.APICalls {
		n += st.Calls(tmpl)
	}
	return n
}

// BenchmarkLateBind: a shared pool keeps one warm machine waiting unbound;
// each iteration queues one job of another entity and measures job queued →
// runner config handed to the waiting machine (the machine then starts its
// runner, which is the machine's own time), plus the forge calls spent per
// assignment. Run: go test -run '^$' -bench LateBind -benchtime 200x ./internal/controller/
func BenchmarkLateBind(b *testing.B) {
	h := newHarness(b, []core.Pool{pool("shared", "linux")})
	if _, err := h.st.ModifyPool(h.ctx, "shared", func(p *core.Pool) error { p.MaxRunners = 100000; return nil }); err != nil {
		b.Fatal(err)
	}
	sharedWarm(h, "shared")
	used := map[string]bool{}
	var lat []time.Duration
	jit, calls := 0, 0
	b.ResetTimer()
	for n := range b.N {
		b.StopTimer()
		var inst core.Instance
		h.eventually("a waiting warm machine", func() bool {
			for _, i := range h.instances(core.InstanceRunning) {
				if i.Unbound && i.BoundJobID == 0 && !used[i.Name] {
					inst = i
					return true
				}
			}
			return false
		})
		used[inst.Name] = true
		spec, _ := h.prov.spec(inst.Name)
		if err := h.ctl.Report(h.ctx, spec.Token, core.RunnerInstalling, ""); err != nil {
			b.Fatal(err)
		}
		res := fetch(h, spec.Token)
		before := h.sim.Stats()
		b.StartTimer()
		t0 := time.Now()
		h.otherEvent(int64(1000+n), []string{"linux"})
		got := <-res
		lat = append(lat, time.Since(t0))
		b.StopTimer()
		if got.err != nil {
			b.Fatal(got.err)
		}
		after := h.sim.Stats()
		jit += after.JITConfigsMinted - before.JITConfigsMinted
		calls += apiCalls(after) - apiCalls(before)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(jit)/float64(b.N), "jit/assign")
	b.ReportMetric(float64(calls)/float64(b.N), "forge-calls/assign")
}
