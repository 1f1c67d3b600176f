package qemu_test

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
)

// manager is one `paddock serve` process.
type manager struct {
	cmd    *exec.Cmd
	log    bytes.Buffer
	exited chan struct{}
}

func startManager(t *testing.T, cfg, addr string) *manager {
	t.Helper()
	m := &manager{exited: make(chan struct{})}
	m.cmd = exec.Command(paddockBin, "serve", "-c", cfg)
	m.cmd.Stdout, m.cmd.Stderr = &m.log, &m.log
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.cmd.Wait(); close(m.exited) }()
	t.Cleanup(func() {
		m.cmd.Process.Kill()
		<-m.exited
		if t.Failed() {
			t.Logf("manager log:\n%s", m.log.String())
		}
	})
	waitFor(t, "the manager to be healthy", 30*time.Second, func() bool {
		select {
		case <-m.exited:
			t.Fatalf("paddock serve exited:\n%s", m.log.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return m
}

// TestManagerKilledWhileVMsRun: kill -9 the manager while two VMs run jobs;
// the VMs outlive it, the restarted manager adopts them, the jobs finish and
// no VM, file or runner is left.
func TestManagerKilledWhileVMsRun(t *testing.T) {
	needVM(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	sim := startSim(t, "http://"+addr+"/webhooks/github")
	cfg := filepath.Join(dir, "paddock.yaml")
	if err := os.WriteFile(cfg, []byte(stackYAML(addr, dir, sim, stackOpts{maxRunners: 2, bootstrapTimeout: 3 * time.Minute})), 0o600); err != nil {
		t.Fatal(err)
	}
	vmDir := filepath.Join(dir, "vms", "vm")
	t.Cleanup(func() {
		// Leave no VM behind whatever happens.
		for _, pid := range qemuPIDs(dir) {
			var n int
			if _, err := fmtSscan(pid, &n); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
	})
	m := startManager(t, cfg, addr)
	var ids []int64
	for _, name := range []string{"long-1", "long-2"} {
		j, err := sim.QueueJob(forgesim.JobSpec{Repo: stackRepo, Labels: []string{"self-hosted", "linux"}, Name: name, Command: "sleep 20"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	status := func(id int64) string {
		for _, j := range sim.Jobs() {
			if j.ID == id {
				return j.Status
			}
		}
		return ""
	}
	waitFor(t, "both jobs to run in VMs", 3*time.Minute, func() bool {
		return status(ids[0]) == forgesim.StatusInProgress && status(ids[1]) == forgesim.StatusInProgress
	})
	before := qemuPIDs(dir)
	if len(before) != 2 {
		t.Fatalf("%d QEMU processes for 2 running jobs", len(before))
	}
	if err := m.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-m.exited
	time.Sleep(time.Second)
	if after := qemuPIDs(dir); len(after) != 2 {
		t.Fatalf("VMs died with the manager: %v → %v", before, after)
	}

	startManager(t, cfg, addr)
	waitFor(t, "the jobs to finish after the restart", 3*time.Minute, func() bool {
		return status(ids[0]) == forgesim.StatusCompleted && status(ids[1]) == forgesim.StatusCompleted
	})
	for _, j := range sim.Jobs() {
		if j.Conclusion != forgesim.ConclusionSuccess {
			t.Errorf("job %s: %s", j.Name, j.Conclusion)
		}
	}
	waitFor(t, "no VM, file or runner left", 90*time.Second, func() bool {
		entries, _ := os.ReadDir(vmDir)
		return len(qemuPIDs(dir)) == 0 && len(entries) == 0 && len(sim.Runners()) == 0
	})
}
