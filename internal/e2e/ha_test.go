package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil/pgtest"
)

// haLease is the replicas' lease in these tests: short, so failover is
// quick, yet well above the scheduling hiccups of a loaded 2-core CI box.
const haLease = 2 * time.Second

// haEnv is env with several `paddock serve` replicas on one PostgreSQL
// database behind a load balancer listening where the simulator sends
// webhooks and machines call back (the config's public_url).
type haEnv struct {
	*env
	dsn   string
	addrs []string // each replica's own listen address
	lb    *balancer
}

func newHAEnv(t *testing.T, replicas, maxRunners int) *haEnv {
	t.Helper()
	srv := pgtest.Start(t)
	h := &haEnv{env: newEnv(t, maxRunners), dsn: srv.DB(t)}
	base, err := os.ReadFile(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < replicas; i++ {
		addr := freePort(t)
		h.addrs = append(h.addrs, addr)
		cfg := strings.Replace(string(base), "  listen: "+h.addr+"\n",
			"  listen: "+addr+"\n  public_url: http://"+h.addr+"\n", 1)
		cfg = strings.Replace(cfg, "store:\n  path: paddock.db\n", "store:\n  driver: postgres\n  dsn: env:E2E_DSN\n", 1)
		cfg = strings.Replace(cfg, "state_dir: state\n",
			fmt.Sprintf("ha:\n  lease: %s\n  replica_name: r%d\nstate_dir: state\n", haLease, i), 1)
		if err := os.WriteFile(h.replicaConfig(i), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h.lb = startBalancer(t, h.addr, h.addrs)
	return h
}

func (h *haEnv) replicaConfig(i int) string {
	return filepath.Join(h.dir, fmt.Sprintf("replica%d.yaml", i))
}

// startReplica starts replica i with the given database URL and waits
// until it answers /healthz.
func (h *haEnv) startReplica(i int, dsn string) *manager {
	h.t.Helper()
	m := &manager{t: h.t, addr: h.addrs[i], log: &bytes.Buffer{}}
	m.cmd = exec.Command(binary, "serve", "-c", h.replicaConfig(i))
	m.cmd.Env = append(append([]string{}, h.environ...), "E2E_DSN="+dsn)
	m.cmd.Stdout, m.cmd.Stderr = m.log, m.log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.managers = append(h.managers, m)
	exited := make(chan struct{})
	go func() { m.cmd.Wait(); close(exited) }()
	m.exited = exited
	h.waitFor(fmt.Sprintf("replica %d healthy", i), 30*time.Second, func() bool {
		select {
		case <-exited:
			h.t.Fatalf("replica %d exited: %s", i, m.log.String())
		default:
		}
		_, err := replicaHealth(m.addr)
		return err == nil
	})
	return m
}

// leaderOf returns the index of the replica that says it leads, or -1.
func (h *haEnv) leaderOf(alive []bool) int {
	for i, addr := range h.addrs {
		if !alive[i] {
			continue
		}
		if hl, err := replicaHealth(addr); err == nil && hl.Role == "leader" {
			return i
		}
	}
	return -1
}

// machineSet is the names of the process provider's machines now.
func (h *haEnv) machineSet() map[string]bool {
	out := map[string]bool{}
	for _, n := range h.machines() {
		out[n] = true
	}
	return out
}

// instanceCounts reads the shared store: instances ever recorded, those
// that ran a job, and any job that more than one instance ran.
func (h *haEnv) instanceCounts() (total, ranJob int, dupJobs []string) {
	h.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE (data::jsonb->>'job_id') IS NOT NULL) FROM instances`).
		Scan(&total, &ranJob); err != nil {
		h.t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT data::jsonb->>'job_id', count(*) FROM instances
		WHERE (data::jsonb->>'job_id') IS NOT NULL GROUP BY 1 HAVING count(*) > 1`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var job string
		var n int
		_ = rows.Scan(&job, &n)
		dupJobs = append(dupJobs, fmt.Sprintf("job %s: %d instances", job, n))
	}
	return total, ranJob, dupJobs
}

// deleteReasons counts instances by why they were deleted.
func (h *haEnv) deleteReasons() map[string]int {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT coalesce(data::jsonb->>'delete_reason', ''), count(*) FROM instances GROUP BY 1`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var n int
		_ = rows.Scan(&r, &n)
		out[r] = n
	}
	return out
}

// TestHAFailoverKill9 runs 3 replicas on one PostgreSQL database behind a
// load balancer, sends a 200-job burst whose webhooks (and the machines'
// calls) are spread over all three, and kills the leader with SIGKILL in
// the middle. Another replica must take over and finish: every job served
// exactly once, no job given two machines, and after teardown no machine,
// runner registration or live instance left. It prints the failover time
// (kill → a replica leads, and kill → its first provider create).
func TestHAFailoverKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end failover")
	}
	const jobs, replicas = 200, 3
	h := newHAEnv(t, replicas, 25)
	ms := make([]*manager, replicas)
	alive := make([]bool, replicas)
	for i := range replicas {
		ms[i] = h.startReplica(i, h.dsn)
		alive[i] = true
	}
	h.waitFor("a leader", 30*time.Second, func() bool { return h.leaderOf(alive) >= 0 })
	for i := 0; i < jobs; i++ {
		if _, err := h.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"},
			Name: fmt.Sprintf("j%03d", i), Duration: 300 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("a third of the jobs done", 3*time.Minute, func() bool { return h.completed() >= jobs/3 })
	old := h.leaderOf(alive)
	if old < 0 {
		t.Fatal("no replica leads")
	}
	before := h.machineSet()
	oldHealth, _ := replicaHealth(h.addrs[old])
	killedAt := time.Now()
	ms[old].kill9()
	alive[old] = false
	var elected, created time.Duration
	next := -1
	h.waitFor("a new leader creating machines", 2*time.Minute, func() bool {
		if elected == 0 {
			if next = h.leaderOf(alive); next >= 0 {
				elected = time.Since(killedAt)
			}
		}
		if created == 0 {
			for n := range h.machineSet() {
				if !before[n] {
					created = time.Since(killedAt)
					break
				}
			}
		}
		return elected > 0 && created > 0
	})
	newHealth, _ := replicaHealth(h.addrs[next])
	t.Logf("failover: leader r%d (epoch %d) killed with %d/%d jobs done; r%d leads (epoch %d) after %s, first provider create after %s (lease %s)",
		old, oldHealth.Epoch, h.completed(), jobs, next, newHealth.Epoch, elected.Round(time.Millisecond), created.Round(time.Millisecond), haLease)
	if newHealth.Epoch <= oldHealth.Epoch {
		t.Errorf("new leader's epoch %d not above the old %d", newHealth.Epoch, oldHealth.Epoch)
	}
	h.waitFor("every job completed", 4*time.Minute, func() bool { return h.completed() == jobs })
	spread := h.lb.spread()
	t.Logf("webhooks answered per replica: %v", spread)
	for i := range replicas {
		if spread[i] == 0 {
			t.Errorf("replica %d answered no webhook: the load balancer did not spread them", i)
		}
	}
	h.checkOneJobPerRunner()
	h.teardownAndCheckLeaks()
	total, ran, dups := h.instanceCounts()
	t.Logf("instances: %d recorded, %d ran a job; by delete reason: %v", total, ran, h.deleteReasons())
	if len(dups) > 0 {
		t.Errorf("jobs run by more than one instance: %v", dups)
	}
	if ran != jobs {
		t.Errorf("%d instances ran a job, want %d", ran, jobs)
	}
	sort.Strings(dups)
}
