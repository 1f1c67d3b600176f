package qemu_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

var (
	arm64Once sync.Once
	noArm64   string // why qemu-system-aarch64 cannot start
	arm64Err  error
)

// needArm64VM builds the arm64 fixtures (guest agent, simulated runner and
// fast image from Debian's arm64 packages). Without qemu-system-aarch64 the
// test skips loudly, except in CI, where it fails.
func needArm64VM(t *testing.T) {
	t.Helper()
	needVM(t)
	arm64Once.Do(func() {
		if out, err := exec.Command("qemu-system-aarch64", "-version").CombinedOutput(); err != nil {
			noArm64 = fmt.Sprintf("qemu-system-aarch64 cannot start: %v %s (install Debian's qemu-system-arm)", err, bytes.TrimSpace(out))
			return
		}
		arm64Err = buildArch("arm64", "arm64")
	})
	if noArm64 != "" {
		if os.Getenv("CI") == "true" {
			t.Fatal(noArm64)
		}
		t.Skipf("!!! ARM64 VM TEST SKIPPED: %s", noArm64)
	}
	if arm64Err != nil {
		t.Fatal(arm64Err)
	}
}

// TestArm64MicroVMRunsAJob: a pool with arch: arm64 gets an arm64 microVM,
// emulated on this host (qemu-system-aarch64, virt machine); its runner
// comes from the forge's linux-arm64 package and runs a job that checks it
// is on aarch64.
func TestArm64MicroVMRunsAJob(t *testing.T) {
	needArm64VM(t)
	s := newStack(t, stackOpts{maxRunners: 1, bootstrapTimeout: 4 * time.Minute, arch: "arm64"})
	j := s.queue("on-arm64", `m=$(uname -m); [ "$m" = aarch64 ] || { echo "running on $m"; exit 1; }`)
	waitFor(t, "the arm64 job to complete", 5*time.Minute, func() bool { return s.job(j.ID).Status == forgesim.StatusCompleted })
	if c := s.job(j.ID).Conclusion; c != forgesim.ConclusionSuccess {
		t.Fatalf("the job did not run on aarch64 (conclusion %s)", c)
	}
	s.waitClean(90 * time.Second)
	boots := s.app.Providers["vm"].(*qemu.Provider).Boots()
	if len(boots) != 1 || boots[0].Arch != "arm64" || !strings.Contains(boots[0].Tools, "-linux-arm64-") {
		t.Fatalf("boots = %+v; want one arm64 VM that downloaded the linux-arm64 runner", boots)
	}
	if _, ok := boots[0].Stamps["online"]; !ok {
		t.Errorf("the guest reported no online time: %v", boots[0].Stamps)
	}
	t.Logf("arm64 VM under emulation: kernel start → init %s, runner online at guest uptime %s, runner %s",
		boots[0].Init, boots[0].Stamps["online"], boots[0].Tools)
}
