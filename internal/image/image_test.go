package image

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// readCPIO parses a newc archive the way the kernel does and returns name →
// (mode, body).
func readCPIO(t *testing.T, b []byte) map[string]struct {
	mode uint32
	body string
} {
	t.Helper()
	out := map[string]struct {
		mode uint32
		body string
	}{}
	align := func(n int) int { return (n + 3) &^ 3 }
	for off := 0; ; {
		if off+110 > len(b) || string(b[off:off+6]) != "070701" {
			t.Fatalf("bad header at %d", off)
		}
		field := func(i int) int {
			v, err := strconv.ParseUint(string(b[off+6+8*i:off+14+8*i]), 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			return int(v)
		}
		mode, size, nameLen := uint32(field(1)), field(6), field(11)
		name := string(b[off+110 : off+110+nameLen-1])
		off = align(off + 110 + nameLen)
		if name == "TRAILER!!!" {
			if off != len(b) {
				t.Fatalf("%d bytes after the trailer", len(b)-off)
			}
			return out
		}
		out[name] = struct {
			mode uint32
			body string
		}{mode, string(b[off : off+size])}
		off = align(off + size)
	}
}

func TestInitramfsLayout(t *testing.T) {
	kfiles := map[string][]byte{
		"lib/modules/6.1/kernel/a.ko": []byte("A"),
		"lib/modules/6.1/kernel/b.ko": []byte("BB"),
	}
	b, err := initramfs([]byte("PADDOCK"), []byte("BUSYBOX!"), kfiles, []string{"lib/modules/6.1/kernel/b.ko", "lib/modules/6.1/kernel/a.ko"})
	if err != nil {
		t.Fatal(err)
	}
	files := readCPIO(t, b)
	checks := map[string]string{
		"bin/paddock": "PADDOCK", "bin/busybox": "BUSYBOX!", "init": InitScript, "bin/sh": "busybox",
		"lib/modules/6.1/kernel/a.ko": "A", "etc/paddock/modules": "6.1/kernel/b.ko\n6.1/kernel/a.ko\n",
	}
	for name, want := range checks {
		if got, ok := files[name]; !ok || got.body != want {
			t.Errorf("%s = %q, want %q", name, got.body, want)
		}
	}
	if files["init"].mode != modeFile|0o755 || files["bin/sh"].mode&0o170000 != modeLink || files["lib/modules/6.1"].mode&0o170000 != modeDir {
		t.Errorf("modes: init %o, bin/sh %o", files["init"].mode, files["bin/sh"].mode)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "work"} {
		if files[d].mode&0o170000 != modeDir {
			t.Errorf("no directory %s", d)
		}
	}
}

func TestCPIORefusesEscapingNames(t *testing.T) {
	c := &cpioWriter{w: &bytes.Buffer{}}
	for _, n := range []string{"", "/", "../etc/passwd", "a/../../b"} {
		if err := c.entry(n, modeFile|0o644, nil); err == nil {
			t.Errorf("entry %q accepted", n)
		}
	}
}

func TestLoadOrderPutsDependenciesFirst(t *testing.T) {
	mods := map[string]string{"net": "k/net.ko", "virtio": "k/virtio.ko", "ring": "k/ring.ko", "crypt": "k/dm-crypt.ko", "dm_mod": "k/dm-mod.ko"}
	deps := map[string][]string{"k/net.ko": {"virtio", "ring"}, "k/virtio.ko": {"ring"}, "k/dm-crypt.ko": {"dm_mod"}}
	dep := func(p string) ([]string, error) { return deps[p], nil }
	order, err := loadOrder(mods, dep, []string{"net", "crypt", "virtio"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, " "); got != "k/ring.ko k/virtio.ko k/net.ko k/dm-mod.ko k/dm-crypt.ko" {
		t.Fatalf("order = %s", got)
	}
	if _, err := loadOrder(mods, dep, []string{"missing"}); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing module: %v", err)
	}
	deps["k/ring.ko"] = []string{"net"}
	if _, err := loadOrder(mods, dep, []string{"net"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	if modName("lib/modules/x/kernel/drivers/md/dm-crypt.ko") != "dm_crypt" {
		t.Fatal("module names must treat - and _ alike")
	}
}

func TestBuildRefusesDynamicBinaryAndBadInput(t *testing.T) {
	if _, err := Build(t.Context(), Options{}); err == nil {
		t.Fatal("empty options accepted")
	}
	_, err := Build(t.Context(), Options{Dir: t.TempDir(), Paddock: "/bin/sh"})
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("dynamic binary: %v", err)
	}
	notELF := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if _, err := Build(t.Context(), Options{Dir: t.TempDir(), Paddock: notELF}); err == nil || !strings.Contains(err.Error(), "ELF") {
		t.Fatalf("script: %v", err)
	}
}

func TestCurrentTellsHowToBuild(t *testing.T) {
	dir := t.TempDir()
	if _, err := Current(dir); err == nil || !strings.Contains(err.Error(), "paddock image build") {
		t.Fatalf("err = %v", err)
	}
	if err := setCurrent(dir, Image{Kernel: filepath.Join(dir, "gone"), Initrd: filepath.Join(dir, "gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Current(dir); err == nil || !strings.Contains(err.Error(), "again") {
		t.Fatalf("missing files: %v", err)
	}
}

func TestPruneKeepsOnlyTheCurrentImage(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"0123456789abcdef", "fedcba9876543210", "debs", "notakey"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	prune(dir, "fedcba9876543210")
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "debs,fedcba9876543210,notakey" {
		t.Fatalf("after prune: %v", names)
	}
}
