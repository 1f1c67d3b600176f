package qemu_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// TestCloudImageVMLifecycle starts QEMU on a cloud image: a blank qcow2
// made here, since no real cloud image can be had in tests. The firmware
// finds nothing to boot, but QEMU really opens the overlay, seed and scratch
// disk, so what the provider leaves on the host is the real thing.
func TestCloudImageVMLifecycle(t *testing.T) {
	needVM(t)
	base := filepath.Join(t.TempDir(), "base.qcow2")
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", base, "64M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	b, _ := os.ReadFile(base)
	sum := sha256.Sum256(b)
	fi, _ := os.Stat(base)
	mtime := fi.ModTime()

	state := t.TempDir()
	// No fast image: a cloud image does not need one, and "auto" then
	// settles on TCG rather than probing KVM with an image it lacks.
	p, err := qemu.New(qemu.Options{StateDir: state, ControllerID: "c1", ImageDir: t.TempDir(), Accel: "auto",
		RelayCommand: []string{paddockBin, "qemu-relay"}, MemoryMB: 256})
	if err != nil {
		t.Fatal(err)
	}
	const token = "cloud-instance-token-42"
	spec := provider.Spec{Name: "cloud-1", PoolID: "pool", Image: qemu.CloudImagePrefix + base, Token: token,
		MetadataURL: "http://127.0.0.1:18080/api/v1/metadata", CallbackURL: "http://127.0.0.1:18080/api/v1/callbacks"}
	ctx := context.Background()
	m, err := p.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Delete(context.WithoutCancel(ctx), spec.Name)
	if m.Status != provider.StatusRunning {
		t.Fatalf("machine %+v", m)
	}
	dir := filepath.Join(state, spec.Name)
	for _, f := range []string{"overlay.qcow2", "scratch.img", "machine.json", "qemu.pid"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "seed.iso")); !os.IsNotExist(err) {
		t.Errorf("the seed (it holds the token) is still on the host: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "scratch.img")); err != nil || fi.Size() != 10<<30 {
		t.Errorf("scratch disk should be on by default for cloud images (10 GB sparse): %v", err)
	}
	pids := qemuPIDs(dir)
	if len(pids) != 1 {
		t.Fatalf("QEMU processes for %s: %v", dir, pids)
	}
	cmdline, _ := os.ReadFile("/proc/" + pids[0] + "/cmdline")
	if bytes.Contains(cmdline, []byte(token)) {
		t.Error("the token is on QEMU's command line")
	}
	for _, want := range []string{"overlay.qcow2", "seed.iso", "readonly=on", "serial=paddock-scratch", "accel=tcg"} {
		if !bytes.Contains(cmdline, []byte(want)) {
			t.Errorf("QEMU command line lacks %s: %s", want, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	if strings.Contains(string(cmdline), "-kernel") {
		t.Error("a cloud image was booted with the fast image's kernel")
	}

	if err := p.Delete(ctx, spec.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("instance directory (overlay, scratch) left after Delete: %v", err)
	}
	if left := qemuPIDs(dir); len(left) != 0 {
		t.Errorf("QEMU still runs: %v", left)
	}
	b, _ = os.ReadFile(base)
	fi, _ = os.Stat(base)
	if sha256.Sum256(b) != sum || !fi.ModTime().Equal(mtime) {
		t.Error("the base image was written")
	}
}

func TestCloudImageBadBase(t *testing.T) {
	needVM(t)
	raw := filepath.Join(t.TempDir(), "raw.img")
	if err := os.WriteFile(raw, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	p, err := qemu.New(qemu.Options{StateDir: state, ControllerID: "c1", ImageDir: imageDir, Accel: "tcg",
		RelayCommand: []string{paddockBin, "qemu-relay"}})
	if err != nil {
		t.Fatal(err)
	}
	spec := provider.Spec{Name: "bad-1", Image: qemu.CloudImagePrefix + raw, Token: "t",
		MetadataURL: "http://127.0.0.1:18080/m", CallbackURL: "http://127.0.0.1:18080/c"}
	if _, err := p.Create(context.Background(), spec); err == nil || !strings.Contains(err.Error(), "qemu-img") {
		t.Fatalf("Create on a raw base: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "bad-1")); !os.IsNotExist(err) {
		t.Errorf("a failed Create left its directory: %v", err)
	}
	if _, err := qemu.New(qemu.Options{StateDir: state, ControllerID: "c1", ImageDir: imageDir,
		RelayCommand: []string{"x"}, Workspace: "disk"}); err == nil {
		t.Error("workspace \"disk\" accepted")
	}
}
