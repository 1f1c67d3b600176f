package qemu

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The template key must change whenever a restore could not load the saved
// state or would give the VM the wrong machine: another QEMU, image,
// architecture, accelerator, size or set of forwards. It must not change
// with the instance's own name and directory, or no two VMs would share one.
func TestTemplateKeyCoversWhatTheStateDependsOn(t *testing.T) {
	base := vmConfig{name: "a", dir: "/s/a", accel: "tcg", arch: "amd64", kernel: "/i/k1/vmlinux", initrd: "/i/k1/initrd.img",
		cpus: 1, memoryMB: 512, relay: []string{"/bin/paddock", "qemu-relay"}, fwd: map[int]string{8080: "127.0.0.1:8080"}, snapshot: true}
	key := templateKey("QEMU 7.2.22", "img1", base)
	same := base
	same.name, same.dir = "b", "/s/b"
	if templateKey("QEMU 7.2.22", "img1", same) != key {
		t.Fatal("the key depends on the instance's name or directory")
	}
	changes := map[string]func(v *vmConfig, version, img *string){
		"QEMU version": func(_ *vmConfig, version, _ *string) { *version = "QEMU 8.0.0" },
		"image":        func(_ *vmConfig, _, img *string) { *img = "img2" },
		"memory":       func(v *vmConfig, _, _ *string) { v.memoryMB = 1024 },
		"CPUs":         func(v *vmConfig, _, _ *string) { v.cpus = 2 },
		"accelerator":  func(v *vmConfig, _, _ *string) { v.accel = "kvm" },
		"architecture": func(v *vmConfig, _, _ *string) { v.arch = "arm64" },
		"forwards":     func(v *vmConfig, _, _ *string) { v.fwd = map[int]string{8081: "127.0.0.1:8081"} },
	}
	for what, change := range changes {
		v, version, img := base, "QEMU 7.2.22", "img1"
		change(&v, &version, &img)
		if templateKey(version, img, v) == key {
			t.Errorf("another %s gives the same template key", what)
		}
	}
	args := vmArgs(base)
	if slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "boot.cfg") }) ||
		!slices.Contains(args, "vmgenid,guid=auto") || !strings.Contains(strings.Join(args, " "), "paddock.snapshot") {
		t.Errorf("snapshot VM args: want no boot settings file, a vmgenid device and the snapshot flag: %q", args)
	}
}

// A build prunes the templates that can never be restored again (another
// image or QEMU version) and keeps those of other VM sizes and anything it
// cannot prove is a template.
func TestPruneTemplatesKeepsWhatMayStillBeUsed(t *testing.T) {
	root := t.TempDir()
	write := func(key string, m *templateMeta) string {
		dir := filepath.Join(root, key)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if m != nil {
			b, _ := json.Marshal(m)
			os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o600)
		}
		return dir
	}
	cur := templateMeta{Key: "cur", Image: "img2", QEMU: "q1"}
	write("cur", &cur)
	oldImage := write("old1", &templateMeta{Key: "old1", Image: "img1", QEMU: "q1"})
	oldQEMU := write("old2", &templateMeta{Key: "old2", Image: "img2", QEMU: "q0"})
	otherSize := write("size", &templateMeta{Key: "size", Image: "img2", QEMU: "q1"})
	unknown := write("unknown", nil)
	building := write(".build-x", &templateMeta{Key: ".build-x", Image: "img1", QEMU: "q1"})
	pruneTemplates(root, cur)
	for dir, want := range map[string]bool{oldImage: false, oldQEMU: false, otherSize: true, unknown: true, building: true, filepath.Join(root, "cur"): true} {
		if _, err := os.Stat(dir); (err == nil) != want {
			t.Errorf("%s: kept = %v, want %v", filepath.Base(dir), err == nil, want)
		}
	}
}

func TestStartOptionIsChecked(t *testing.T) {
	_, err := New(Options{StateDir: t.TempDir(), ControllerID: "c", ImageDir: "x", RelayCommand: []string{"r"}, Start: "resume"})
	if err == nil || !strings.Contains(err.Error(), `start "resume": want boot or snapshot`) {
		t.Fatalf("New with start: resume: %v", err)
	}
}
