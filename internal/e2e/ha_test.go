package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/testutil/cutproxy"
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

// instanceCounts reads the shared store: instances ever recorded, and how
// many of them ran a job at the simulator (the rest were spare: made while
// a job's in_progress webhook was still on its way, or whose machine failed
// to boot, and removed by scale-down or the teardown).
func (h *haEnv) instanceCounts() (total, served int) {
	h.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, h.dsn)
	if err != nil {
		h.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT name FROM instances`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	ran := map[string]bool{}
	for _, j := range h.sim.Jobs() {
		ran[j.RunnerName] = true
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			h.t.Fatal(err)
		}
		total++
		if ran[name] {
			served++
		}
	}
	return total, served
}

// createsOK is how many provider creates replica addr has completed.
func (h *haEnv) createsOK(addr string) int {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+h.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "paddock_provider_op_seconds_count{") && strings.Contains(line, `op="create"`) &&
			strings.Contains(line, `result="ok"`) {
			f := strings.Fields(line)
			v, _ := strconv.Atoi(f[len(f)-1])
			n += v
		}
	}
	return n
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
	oldHealth, _ := replicaHealth(h.addrs[old])
	killedAt := time.Now()
	ms[old].kill9()
	alive[old] = false
	// Taken once the old leader is gone: any machine not in it is the new
	// leader's (none can lead before the old lease ends).
	before := h.machineSet()
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
	total, served := h.instanceCounts()
	t.Logf("instances: %d recorded, %d ran a job, %d spare; by delete reason: %v", total, served, total-served, h.deleteReasons())
	if served != jobs {
		t.Errorf("%d instances ran a job, want %d", served, jobs)
	}
}

// TestHAPartitionLeaderFromDatabase puts a TCP proxy between the leader and
// PostgreSQL and cuts it in the middle of a burst. The leader must stop
// acting within the lease (its /healthz says follower), the other replica
// takes over, every job is served once and no job gets two machines; once
// the network is back the old leader rejoins as a follower.
func TestHAPartitionLeaderFromDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end partition")
	}
	const jobs = 80
	h := newHAEnv(t, 2, 12)
	cfg, err := pgx.ParseConfig(h.dsn)
	if err != nil {
		t.Fatal(err)
	}
	pgAddr := fmt.Sprintf("%s:%d", cfg.Host, cfg.Port)
	proxy := cutproxy.Start(t, pgAddr)
	alive := []bool{true, true}
	ms := []*manager{h.startReplica(0, strings.Replace(h.dsn, pgAddr, proxy.Addr, 1))}
	h.waitFor("r0 leads", 30*time.Second, func() bool { return h.leaderOf(alive) == 0 })
	ms = append(ms, h.startReplica(1, h.dsn))
	for i := 0; i < jobs; i++ {
		if _, err := h.sim.QueueJob(forgesim.JobSpec{Repo: repo, Labels: []string{"self-hosted", "linux"},
			Name: fmt.Sprintf("p%03d", i), Duration: 300 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	h.waitFor("a quarter of the jobs done", 3*time.Minute, func() bool { return h.completed() >= jobs/4 })
	cutAt := time.Now()
	proxy.Cut()
	var stopped, tookOver time.Duration
	h.waitFor("r0 steps down and r1 takes over", time.Minute, func() bool {
		if stopped == 0 {
			if hl, err := replicaHealth(h.addrs[0]); err == nil && hl.Role == "follower" {
				stopped = time.Since(cutAt)
			}
		}
		if tookOver == 0 {
			if hl, err := replicaHealth(h.addrs[1]); err == nil && hl.Role == "leader" {
				tookOver = time.Since(cutAt)
			}
		}
		return stopped > 0 && tookOver > 0
	})
	// From here on r0 must not create a machine (a create it started
	// before stepping down returned long since: they take milliseconds).
	createdByOld := h.createsOK(h.addrs[0])
	t.Logf("partition: r0 stopped acting %s after the cut, r1 led after %s (lease %s)",
		stopped.Round(time.Millisecond), tookOver.Round(time.Millisecond), haLease)
	if stopped >= haLease {
		t.Errorf("r0 acted for %s after losing the database, longer than its %s lease", stopped, haLease)
	}
	if stopped >= tookOver {
		t.Errorf("r1 led (after %s) before r0 stopped acting (after %s)", tookOver, stopped)
	}
	h.waitFor("every job completed", 4*time.Minute, func() bool { return h.completed() == jobs })
	proxy.Heal()
	h.waitFor("r0 back, as a follower", time.Minute, func() bool {
		hl, err := replicaHealth(h.addrs[0])
		return err == nil && hl.Role == "follower"
	})
	h.checkOneJobPerRunner()
	h.teardownAndCheckLeaks()
	total, served := h.instanceCounts()
	t.Logf("instances: %d recorded, %d ran a job, %d spare; by delete reason: %v", total, served, total-served, h.deleteReasons())
	if served != jobs {
		t.Errorf("%d instances ran a job, want %d", served, jobs)
	}
	if n := h.createsOK(h.addrs[0]); n != createdByOld {
		t.Errorf("r0 completed %d provider creates after it stepped down", n-createdByOld)
	}
	ms[0].kill9() // its log is complete (and safe to read) once it has exited
	if !strings.Contains(ms[0].log.String(), `reason="lease not renewed in time"`) {
		t.Errorf("r0's log does not say it stepped down for want of a renewal")
	}
}
