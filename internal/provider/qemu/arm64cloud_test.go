package qemu_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// needFirmware skips (loudly) without Debian's AAVMF, except in CI.
func needFirmware(t *testing.T) {
	t.Helper()
	for _, f := range []string{qemu.DefaultFirmwareArm64, qemu.DefaultFirmwareVarsArm64} {
		if _, err := os.Stat(f); err != nil {
			msg := "arm64 UEFI firmware missing (" + err.Error() + "): install Debian's qemu-efi-aarch64"
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip("!!! ARM64 CLOUD-IMAGE TEST SKIPPED: " + msg)
		}
	}
}

// TestArm64CloudImageRunsAJob: a pool with arch: arm64 and a cloud image
// boots it under emulation through the UEFI firmware (AAVMF in flash), the
// image's boot loader and kernel, which read the NoCloud seed, reach
// Paddock's metadata endpoint and run the job on aarch64. The image is the
// small EFI disk buildEFIDisk makes, or, with PADDOCK_ARM64_CLOUD_IMAGE set
// to a qcow2 (scripts/arm64-cloud-image), a full Debian cloud image with
// cloud-init.
func TestArm64CloudImageRunsAJob(t *testing.T) {
	needArm64VM(t)
	needFirmware(t)
	disk, full := os.Getenv("PADDOCK_ARM64_CLOUD_IMAGE"), true
	boot := 3 * time.Minute
	if disk == "" {
		disk, full = buildEFIDisk(t), false
	} else {
		boot = 20 * time.Minute // systemd and cloud-init under emulation
	}
	s := newStack(t, stackOpts{maxRunners: 1, bootstrapTimeout: boot, arch: "arm64", image: qemu.CloudImagePrefix + disk})
	check := `m=$(uname -m); [ "$m" = aarch64 ] || { echo "running on $m"; exit 1; }`
	if full {
		// cloud-init ran the user-data's bootstrap: the workspace is the
		// encrypted scratch disk.
		check += `; grep -q '^/dev/mapper/paddock-scratch /work ' /proc/mounts || { echo "workspace not on the encrypted scratch disk"; exit 1; }`
	}
	j := s.queue("on-arm64-cloud", check)
	waitFor(t, "the arm64 cloud-image job to complete", boot+2*time.Minute, func() bool {
		return s.job(j.ID).Status == forgesim.StatusCompleted
	})
	done := s.job(j.ID)
	if done.Conclusion != forgesim.ConclusionSuccess {
		t.Fatalf("the job did not run on aarch64 (conclusion %s)", done.Conclusion)
	}
	s.waitClean(3 * time.Minute)
	t.Logf("arm64 cloud image (full Debian: %v) under emulation: queued → job started %s, job completed after %s",
		full, done.StartedAt.Sub(done.CreatedAt).Round(100*time.Millisecond), done.CompletedAt.Sub(done.CreatedAt).Round(100*time.Millisecond))
	if full {
		return
	}
	boots := s.app.Providers["vm"].(*qemu.Provider).Boots()
	if len(boots) != 1 || boots[0].Arch != "arm64" || !strings.Contains(boots[0].Tools, "-linux-arm64-") {
		t.Fatalf("boots = %+v; want one arm64 VM that downloaded the linux-arm64 runner", boots)
	}
	t.Logf("guest uptime at runner online: %s (stamps %v)", boots[0].Stamps["online"], boots[0].Stamps)
}

// TestArm64CloudImageNotBootable: a qcow2 with nothing the UEFI firmware can
// boot (here blank; an x64-only image looks the same to it). The VM never
// calls back, so the pool destroys it at its bootstrap timeout, the log says
// why in words, and the next VM comes only after that timeout: one VM per
// bootstrap timeout, not a retry storm.
func TestArm64CloudImageNotBootable(t *testing.T) {
	needArm64VM(t)
	needFirmware(t)
	blank := filepath.Join(t.TempDir(), "blank.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", blank, "64M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	logs := &testutil.SyncBuffer{}
	const timeout = 40 * time.Second
	s := newStack(t, stackOpts{maxRunners: 1, bootstrapTimeout: timeout, arch: "arm64", image: qemu.CloudImagePrefix + blank, logs: logs})
	j := s.queue("never-booted", "true")
	var first string
	var started time.Time
	waitFor(t, "a VM to start", 60*time.Second, func() bool {
		if v := s.vms(); len(v) == 1 {
			first, started = v[0], time.Now()
			return true
		}
		return false
	})
	waitFor(t, "the VM that never booted to be destroyed at its bootstrap timeout", timeout+90*time.Second, func() bool {
		return len(qemuPIDs(filepath.Join(s.vmDir(), first))) == 0 && !slices.Contains(s.vms(), first)
	})
	if gone := time.Since(started); gone < timeout-5*time.Second {
		t.Errorf("the VM was destroyed after %s, before its bootstrap timeout %s", gone, timeout)
	}
	log := logs.String()
	for _, want := range []string{"reason=bootstrap_timeout", "the UEFI firmware found no boot loader on its cloud image", "EFI/BOOT/BOOTAA64.EFI", blank} {
		if !strings.Contains(log, want) {
			t.Errorf("the manager's log lacks %q", want)
		}
	}
	if n := strings.Count(log, "msg=\"qemu: VM started\""); n > 2 {
		t.Errorf("%d VMs started within one bootstrap timeout: a retry storm", n)
	}
	if st := s.job(j.ID).Status; st == forgesim.StatusCompleted {
		t.Errorf("the job completed on an image that cannot boot")
	}
}
