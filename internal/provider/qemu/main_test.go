package qemu_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/image"
)

// The VM tests boot real VMs. They need qemu-system-x86_64 (Debian package
// qemu-system-x86) and, for the image build, apt-get download and dpkg-deb
// with current apt lists. The fixtures are built by the first test that
// calls needVM, so tests that boot nothing do not pay for them.
var (
	paddockBin string // static paddock build: the relay
	// simRunners are the forge simulator's runner programs by download
	// architecture (x64, arm64), which the VMs download and run.
	simRunners = map[string]string{}
	imageDir   string
	noQEMU     string // why QEMU cannot start; tests skip loudly
	setupErr   error  // anything else that failed: tests fail

	binDir    string
	setupOnce sync.Once
)

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "paddock-qemu-test-")
	if err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

func setup(bin string) {
	if out, err := exec.Command("qemu-system-x86_64", "-version").CombinedOutput(); err != nil {
		noQEMU = fmt.Sprintf("qemu-system-x86_64 cannot start: %v %s", err, bytes.TrimSpace(out))
		fmt.Fprintf(os.Stderr, "\n%s\n!!! SKIPPING EVERY QEMU VM TEST: %s\n!!! install Debian's qemu-system-x86 to run them\n%s\n\n",
			strings.Repeat("!", 78), noQEMU, strings.Repeat("!", 78))
		return
	}
	paddockBin = filepath.Join(bin, "paddock")
	if setupErr = goBuild(paddockBin, "amd64", "../../../cmd/paddock"); setupErr != nil {
		return
	}
	// The image cache outlives the test run: the kernel package is 70 MB.
	imageDir = filepath.Join(os.TempDir(), "paddock-test-images")
	setupErr = buildArch("amd64", "x64")
}

// buildArch builds the guest agent and the simulated runner for arch and the
// fast image with that guest agent.
func buildArch(arch, forgeArch string) error {
	guest := filepath.Join(binDir, "paddock-guest-"+arch)
	if err := goBuild(guest, arch, "../../../cmd/paddock-guest"); err != nil {
		return err
	}
	simRunners[forgeArch] = filepath.Join(binDir, "paddock-simrunner-"+arch)
	if err := goBuild(simRunners[forgeArch], arch, "../../../cmd/paddock-simrunner"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if _, err := image.Build(ctx, image.Options{Dir: imageDir, Guest: guest, Arch: arch}); err != nil {
		return fmt.Errorf("build the %s fast image: %w", arch, err)
	}
	return nil
}

// goBuild builds a static, stripped program for arch, as scripts/test does.
func goBuild(out, arch, pkg string) error {
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH="+arch)
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build %s for %s: %v\n%s", pkg, arch, err, b)
	}
	return nil
}

// needVM skips (loudly) only when QEMU itself is missing.
func needVM(t *testing.T) {
	t.Helper()
	setupOnce.Do(func() { setup(binDir) })
	if noQEMU != "" {
		t.Skipf("!!! QEMU VM TEST SKIPPED: %s", noQEMU)
	}
	if setupErr != nil {
		t.Fatal(setupErr)
	}
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for: %s", limit, what)
}

// qemuPIDs lists QEMU processes whose command line mentions dir.
func qemuPIDs(dir string) []string {
	var out []string
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("qemu-system")) || !bytes.Contains(b, []byte(dir)) {
			continue
		}
		out = append(out, strings.Split(p, "/")[2])
	}
	return out
}

func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(strings.TrimSpace(s), n) }
