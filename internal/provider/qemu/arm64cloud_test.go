package qemu_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/forgesim"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
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
	j := s.queue("on-arm64-cloud", `m=$(uname -m); [ "$m" = aarch64 ] || { echo "running on $m"; exit 1; }`)
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
