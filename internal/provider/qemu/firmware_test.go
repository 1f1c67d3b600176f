package qemu

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider"
)

// arm64 cloud images boot through UEFI in flash: the firmware code
// read-only, the instance's own variable store writable, plus an entropy
// device; x64 cloud images keep SeaBIOS and no flash.
func TestArm64CloudArgs(t *testing.T) {
	v := vmConfig{name: "m1", dir: "/s/m1", accel: "tcg", arch: "arm64", cpus: 1, memoryMB: 1024, cloud: true,
		firmware: "/fw/CODE.fd", relay: []string{"/p", "qemu-relay"}, fwd: map[int]string{8080: "127.0.0.1:8080"}}
	args := strings.Join(vmArgs(v), " ")
	for _, want := range []string{
		"-machine virt,accel=tcg",
		"-drive if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd",
		"-drive if=pflash,format=raw,unit=1,file=/s/m1/efivars.fd",
		"-device virtio-rng-pci",
		"file=/s/m1/overlay.qcow2 -device virtio-blk-pci,drive=root,bootindex=0",
		"readonly=on,file=/s/m1/seed.iso -device virtio-blk-pci,drive=seed",
		"-device virtio-net-pci",
	} {
		if !strings.Contains(args, want) {
			t.Errorf("arm64 cloud args lack %q:\n%s", want, args)
		}
	}
	for _, bad := range []string{"-kernel", "-bios", "-fw_cfg", "ttyS0"} {
		if strings.Contains(args, bad) {
			t.Errorf("arm64 cloud args have %s: %s", bad, args)
		}
	}
	v.arch = ""
	x := strings.Join(vmArgs(v), " ")
	if strings.Contains(x, "pflash") || strings.Contains(x, "virtio-rng") || !strings.Contains(x, "-machine pc,accel=tcg") {
		t.Errorf("x64 cloud args changed: %s", x)
	}
}

// The variable store copy is the template byte for byte, but sparse: Debian's
// 64 MiB template is zeros, and each VM gets one.
func TestCopyVarsIsSparse(t *testing.T) {
	dir := t.TempDir()
	tmpl := filepath.Join(dir, "VARS.fd")
	b := make([]byte, 8<<20)
	copy(b[3<<20:], "NVRAM header")
	b[len(b)-1] = 0xff
	if err := os.WriteFile(tmpl, b, 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "efivars.fd")
	if err := copyVars(tmpl, dst); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil || !bytes.Equal(got, b) {
		t.Fatalf("copy differs from the template (%v)", err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(dst, &st); err != nil {
		t.Fatal(err)
	}
	if used := st.Blocks * 512; used > 1<<20 {
		t.Errorf("copy of a mostly-zero 8 MiB template takes %d bytes on disk; want it sparse", used)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	if err := copyVars(tmpl, dst); err == nil {
		t.Error("copyVars overwrote an existing store")
	}
}

// Firmware that is not there: a path set in the config fails New, the
// default fails the arm64 cloud-image Create; both name the package, and
// the refused Create leaves nothing behind. x64 cloud images and arm64
// fast images do not need the firmware.
func TestArm64CloudWithoutFirmware(t *testing.T) {
	qemuImg, err := exec.LookPath("qemu-img")
	if err != nil {
		needProgram(t, "qemu-img", "qemu-utils")
	}
	state, images := t.TempDir(), t.TempDir()
	opts := Options{StateDir: state, ControllerID: "c", ImageDir: images, RelayCommand: []string{"x"},
		Binary: "/bin/true", BinaryArm64: "/bin/true", QemuImg: qemuImg}
	bad := opts
	bad.FirmwareArm64 = filepath.Join(t.TempDir(), "AAVMF_CODE.fd")
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), "qemu-efi-aarch64") || !strings.Contains(err.Error(), bad.FirmwareArm64) {
		t.Fatalf("New with a missing firmware_arm64: %v", err)
	}
	bad.FirmwareArm64, bad.FirmwareVarsArm64 = "", t.TempDir() // a directory
	if _, err := New(bad); err == nil || !strings.Contains(err.Error(), "firmware_vars_arm64") {
		t.Fatalf("New with a directory as firmware_vars_arm64: %v", err)
	}

	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	p.opts.FirmwareArm64 = "/nonexistent/AAVMF_CODE.fd" // as on a host without the package
	base := filepath.Join(t.TempDir(), "base.qcow2")
	if out, err := exec.Command(qemuImg, "create", "-q", "-f", "qcow2", base, "16M").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	spec := specFor("arm-cloud-1")
	spec.Arch, spec.Image = "arm64", CloudImagePrefix+base
	_, err = p.Create(context.Background(), spec)
	if err == nil || !strings.Contains(err.Error(), "install Debian's qemu-efi-aarch64 package") || !strings.Contains(err.Error(), "UEFI") {
		t.Fatalf("Create of an arm64 cloud image without firmware: %v", err)
	}
	if entries, _ := os.ReadDir(state); len(entries) > 1 {
		t.Fatalf("state dir after a refused create: %v", entries)
	}
	// An arm64 fast image needs no firmware: it fails for its own reason.
	_, err = p.Create(context.Background(), provider.Spec{Name: "arm-fast-1", Arch: "arm64",
		MetadataURL: "http://127.0.0.1:1/m", CallbackURL: "http://127.0.0.1:1/c", Token: "t"})
	if err == nil || strings.Contains(err.Error(), "qemu-efi-aarch64") {
		t.Fatalf("arm64 fast image: %v", err)
	}
}

func needProgram(t *testing.T, prog, pkg string) {
	t.Helper()
	msg := prog + " is not installed (Debian package " + pkg + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip("!!! SKIPPED: " + msg)
}
