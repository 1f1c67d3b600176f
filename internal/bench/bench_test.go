package bench

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/secretbox"
	"github.com/paddock-ci/paddock/internal/store"
	"github.com/paddock-ci/paddock/internal/store/sqlite"
)

// TestMain lets this test binary be the bench's manager process: the bench
// starts os.Args[0] with BENCH_TEST_MANAGER set.
func TestMain(m *testing.M) {
	if os.Getenv("BENCH_TEST_MANAGER") == "1" {
		o := ManagerOptions{}
		args := os.Args[1:]
		for i := 0; i+1 < len(args); i++ {
			switch args[i] {
			case "--config":
				o.Config = args[i+1]
			case "--seed-pools":
				o.SeedPools, _ = strconv.Atoi(args[i+1])
			case "--seed-instances":
				o.SeedInstances, _ = strconv.Atoi(args[i+1])
			case "--job-time":
				o.JobTime, _ = time.ParseDuration(args[i+1])
			}
		}
		if err := RunManager(context.Background(), o, os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func skipAllBut(rows ...string) map[string]bool {
	skip := map[string]bool{"dispatch": true, "sustained": true, "scale": true, "scheduler": true, "calls": true, "warm": true}
	for _, r := range rows {
		delete(skip, r)
	}
	return skip
}

// A burst through a real manager process yields one latency per job, and
// the store seeded with extra pools and instances does not stop it.
func TestBurstThroughManagerProcess(t *testing.T) {
	t.Setenv("BENCH_TEST_MANAGER", "1")
	r, err := Run(t.Context(), Options{ManagerCommand: []string{os.Args[0]}, Bursts: []int{40},
		Skip: skipAllBut("dispatch"), Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Bursts) != 1 || r.Bursts[0].Jobs != 40 {
		t.Fatalf("bursts = %+v, want one of 40 jobs", r.Bursts)
	}
	b := r.Bursts[0]
	if b.P50Ms <= 0 || b.P99Ms < b.P50Ms || b.P99Ms > b.WallSec*1000 {
		t.Fatalf("burst latencies p50 %.2f ms, p99 %.2f ms over %.2f s do not add up", b.P50Ms, b.P99Ms, b.WallSec)
	}
}

// The seeded store holds what was asked for, and the manager leaves it be:
// no seeded instance is taken for a vanished machine or a timed-out one.
func TestSeededManagerKeepsItsInstances(t *testing.T) {
	t.Setenv("BENCH_TEST_MANAGER", "1")
	dir := t.TempDir()
	err := withManager(t.Context(), Options{ManagerCommand: []string{os.Args[0]}}, dir, "seeded", 3, 30, 0, func(m *manager) error {
		if err := newSender(m.url, 4).burst(1, 5, 4); err != nil {
			return err
		}
		_, err := m.waitDispatches(t.Context(), 0, 5, time.Minute)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "seeded", "bench.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(raw, "bench.yaml", "")
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(cfg.Store.Key())
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(t.Context(), cfg.Store.Path, box)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pools, _ := st.ListPools(t.Context())
	live, _ := st.ListInstances(t.Context(), store.InstanceFilter{Live: true})
	if len(pools) != 4 || len(live) != 35 {
		t.Fatalf("store holds %d pools and %d live instances, want 4 and 35 (30 seeded + 5 made)", len(pools), len(live))
	}
}

// The short mode fails only past Slack× the target, in either direction,
// and says which figure and what to do.
func TestChecksFailOnlyPastSlack(t *testing.T) {
	cases := []struct {
		value, target float64
		higher        bool
		want          string
	}{
		{40, 50, false, "ok"}, {50, 50, false, "ok"}, {120, 50, false, "over"}, {150, 50, false, "over"},
		{151, 50, false, "FAIL"}, {600, 500, true, "ok"}, {200, 500, true, "over"}, {160, 500, true, "FAIL"},
	}
	for _, c := range cases {
		ck := Check{Name: "x", Value: c.value, Target: c.target, Higher: c.higher}
		ck.judge()
		if ck.Status != c.want {
			t.Errorf("value %v target %v higher %v: %s, want %s", c.value, c.target, c.higher, ck.Status, c.want)
		}
	}
	r := &Result{Scheduler: &Scheduler{CPUMs: 31}, Warm: &Warm{P99S: 0.5}}
	r.Checks = checks(r)
	err := r.FailError()
	if err == nil || !strings.Contains(err.Error(), "scheduler decision") || strings.Contains(err.Error(), "warm") {
		t.Fatalf("FailError = %v; want only the scheduler named", err)
	}
	r = &Result{Scheduler: &Scheduler{CPUMs: 29}}
	r.Checks = checks(r)
	if err := r.FailError(); err != nil {
		t.Fatalf("29 ms against 10 ms is within 3×: %v", err)
	}

	// A busy machine excuses a slow latency, never a CPU-time regression.
	r = &Result{Host: Host{CPUs: 2, LoadBefore: [3]float64{5}}, Sustained: &Sustained{P99Ms: 494, AchievedPerSec: 410},
		Scheduler: &Scheduler{CPUMs: 31}}
	r.Checks = checks(r)
	err = r.FailError()
	if err == nil || !strings.Contains(err.Error(), "scheduler decision") || strings.Contains(err.Error(), "sustained") {
		t.Fatalf("busy machine: FailError = %v; want only the scheduler named", err)
	}
	r.Host.LoadBefore[0] = 1
	r.Checks = checks(r)
	if err := r.FailError(); err == nil || !strings.Contains(err.Error(), "sustained: webhook → create p99") {
		t.Fatalf("quiet machine: FailError = %v; want the sustained latency named", err)
	}
}

// A row name --skip does not know is refused, naming the rows there are.
func TestUnknownSkipRowRefused(t *testing.T) {
	_, err := Run(t.Context(), Options{Skip: map[string]bool{"dispach": true}, ManagerCommand: []string{"/bin/false"}, Self: "/bin/false"})
	if err == nil || !strings.Contains(err.Error(), `"dispach"`) || !strings.Contains(err.Error(), "dispatch, sustained") {
		t.Fatalf("--skip dispach: %v; want an error naming the rows", err)
	}
}
