package qemu_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/image"
)

// bindAndHold binds TCP 8080 in the guest (failing the job if it cannot) and
// holds it long enough for the two jobs to overlap.
const bindAndHold = `nc -l -p 8080 </dev/null >/dev/null 2>&1 & pid=$!; sleep 1; kill -0 $pid || { echo "8080 taken"; exit 1; }; `

// TestJobsRunIsolatedInVMs: two jobs at once each bind port 8080 in their own
// VM; a later job does not see the marker file an earlier one left; after the
// jobs every VM, file and runner is gone; no VM was handed the PAT.
func TestJobsRunIsolatedInVMs(t *testing.T) {
	needVM(t)
	s := newStack(t, stackOpts{maxRunners: 2, bootstrapTimeout: 3 * time.Minute})
	j1 := s.queue("writes-marker", bindAndHold+`echo marker-from-job-1 > /work/marker; sleep 12; kill $pid`)
	j2 := s.queue("also-binds-8080", bindAndHold+`sleep 12; kill $pid`)

	var cmdlines [][]byte
	waitFor(t, "both jobs to complete", 4*time.Minute, func() bool {
		for _, pid := range qemuPIDs(s.stateDir) {
			if b, err := os.ReadFile("/proc/" + pid + "/cmdline"); err == nil {
				cmdlines = append(cmdlines, b)
			}
		}
		return s.job(j1.ID).Status == forgesim.StatusCompleted && s.job(j2.ID).Status == forgesim.StatusCompleted
	})
	a, b := s.job(j1.ID), s.job(j2.ID)
	for _, j := range []forgesim.Job{a, b} {
		if j.Conclusion != forgesim.ConclusionSuccess {
			t.Errorf("job %s: %s", j.Name, j.Conclusion)
		}
	}
	if !(a.StartedAt.Before(b.CompletedAt) && b.StartedAt.Before(a.CompletedAt)) {
		t.Errorf("the jobs did not overlap: %s–%s and %s–%s", a.StartedAt, a.CompletedAt, b.StartedAt, b.CompletedAt)
	}
	if a.RunnerName == b.RunnerName {
		t.Errorf("both jobs ran on runner %s", a.RunnerName)
	}
	if len(cmdlines) == 0 {
		t.Fatal("never saw a QEMU process")
	}
	for _, c := range cmdlines {
		if bytes.Contains(c, []byte(fakePAT)) {
			t.Fatal("the PAT is on a VM's command line")
		}
	}
	img, err := image.Current(imageDir, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{img.Kernel, img.Initrd} {
		if b, _ := os.ReadFile(f); bytes.Contains(b, []byte(fakePAT)) {
			t.Fatalf("the PAT is in %s", f)
		}
	}
	s.waitClean(90 * time.Second)

	j3 := s.queue("looks-for-marker", `if [ -e /work/marker ] || grep -rqs marker-from-job-1 /work /tmp; then echo "saw the marker"; exit 1; fi`)
	waitFor(t, "the third job to complete", 3*time.Minute, func() bool { return s.job(j3.ID).Status == forgesim.StatusCompleted })
	if c := s.job(j3.ID).Conclusion; c != forgesim.ConclusionSuccess {
		t.Errorf("a later job saw an earlier job's file (conclusion %s)", c)
	}
	s.waitClean(90 * time.Second)
}

// TestBootstrapTimeoutReplacesVM: a VM whose runner never reports (its
// connections to the manager go nowhere) is destroyed once the pool's
// bootstrap timeout passes, and another VM replaces it.
func TestBootstrapTimeoutReplacesVM(t *testing.T) {
	needVM(t)
	s := newStack(t, stackOpts{maxRunners: 1, bootstrapTimeout: 10 * time.Second, relay: []string{"/bin/false"}})
	s.queue("never-served", "true")
	var first string
	waitFor(t, "a VM to boot", 60*time.Second, func() bool {
		v := s.vms()
		if len(v) == 1 && len(qemuPIDs(filepath.Join(s.vmDir(), v[0]))) == 1 {
			first = v[0]
			return true
		}
		return false
	})
	waitFor(t, "the silent VM to be destroyed and replaced", 90*time.Second, func() bool {
		v := s.vms()
		return len(v) == 1 && v[0] != first && len(qemuPIDs(filepath.Join(s.vmDir(), first))) == 0
	})
	if _, err := os.Stat(filepath.Join(s.vmDir(), first)); !os.IsNotExist(err) {
		t.Fatal("the timed-out VM's directory is still there")
	}
	if strings.Contains(strings.Join(s.vms(), ","), first) {
		t.Fatal("the timed-out VM is still listed")
	}
}
