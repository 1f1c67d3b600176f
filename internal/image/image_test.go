package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
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
	kfiles["lib/modules/6.1/kernel/s.ko"] = []byte("S")
	b, err := initramfs([]byte("GUEST"), []byte("BUSYBOX!"), kfiles, []string{"lib/modules/6.1/kernel/b.ko", "lib/modules/6.1/kernel/a.ko"}, []string{"lib/modules/6.1/kernel/s.ko"})
	if err != nil {
		t.Fatal(err)
	}
	files := readCPIO(t, b)
	checks := map[string]string{
		"bin/paddock-guest": "GUEST", "bin/busybox": "BUSYBOX!", "init": InitScript, "bin/sh": "busybox",
		"lib/modules/6.1/kernel/a.ko": "A", "etc/paddock/modules": "6.1/kernel/b.ko\n6.1/kernel/a.ko\n",
		"lib/modules/6.1/kernel/s.ko": "S", "etc/paddock/modules-scratch": "6.1/kernel/s.ko\n",
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
	order, err := loadOrder(mods, nil, dep, []string{"net", "crypt", "virtio"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, " "); got != "k/ring.ko k/virtio.ko k/net.ko k/dm-mod.ko k/dm-crypt.ko" {
		t.Fatalf("order = %s", got)
	}
	if _, err := loadOrder(mods, nil, dep, []string{"missing"}, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing module: %v", err)
	}
	// Built into the kernel on this architecture: nothing to load.
	if order, err := loadOrder(mods, map[string]bool{"missing": true}, dep, []string{"missing"}, nil); err != nil || len(order) != 0 {
		t.Fatalf("built-in module: %v, %v", order, err)
	}
	// The scratch list leaves out what the boot list loaded already.
	if order, err := loadOrder(mods, nil, dep, []string{"net", "crypt"}, []string{"k/ring.ko", "k/virtio.ko", "k/net.ko"}); err != nil ||
		strings.Join(order, " ") != "k/dm-mod.ko k/dm-crypt.ko" {
		t.Fatalf("scratch order: %v, %v", order, err)
	}
	if b := builtinModules([]byte("kernel/fs/ext4/ext4.ko\nkernel/crypto/crc32c_generic.ko\n")); !b["ext4"] || !b["crc32c_generic"] || len(b) != 2 {
		t.Fatalf("modules.builtin: %v", b)
	}
	deps["k/ring.ko"] = []string{"net"}
	if _, err := loadOrder(mods, nil, dep, []string{"net"}, nil); err == nil || !strings.Contains(err.Error(), "cycle") {
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
	_, err := Build(t.Context(), Options{Dir: t.TempDir(), Guest: "/bin/sh"})
	if err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("dynamic binary: %v", err)
	}
	notELF := filepath.Join(t.TempDir(), "x")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	if _, err := Build(t.Context(), Options{Dir: t.TempDir(), Guest: notELF}); err == nil || !strings.Contains(err.Error(), "ELF") {
		t.Fatalf("script: %v", err)
	}
	if _, err := Build(t.Context(), Options{Dir: t.TempDir(), Guest: notELF, Arch: "riscv64"}); err == nil || !strings.Contains(err.Error(), "want amd64 or arm64") {
		t.Fatalf("unknown arch: %v", err)
	}
	if _, err := Build(t.Context(), Options{Dir: t.TempDir(), Guest: notELF, Compression: "bzip9"}); err == nil || !strings.Contains(err.Error(), "want none or gzip") {
		t.Fatalf("unknown compression: %v", err)
	}
}

// A guest agent built for the wrong architecture is refused before anything
// is downloaded, with the GOARCH to build it with.
func TestBuildRefusesGuestOfAnotherArch(t *testing.T) {
	self, err := os.Executable() // this test binary: only its ELF machine matters
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(self)
	if err != nil {
		t.Skipf("test binary is not ELF: %v", err)
	}
	other := "arm64"
	if f.Machine == elf.EM_AARCH64 {
		other = "amd64"
	}
	f.Close()
	a, _ := lookupArch(other)
	b, _ := os.ReadFile(self)
	err = checkGuest(b, a)
	if err == nil || !strings.Contains(err.Error(), "GOARCH="+other) {
		t.Fatalf("guest of another arch: %v", err)
	}
}

func TestCurrentTellsHowToBuild(t *testing.T) {
	dir := t.TempDir()
	if _, err := Current(dir, ""); err == nil || !strings.Contains(err.Error(), "run `paddock image build` first") {
		t.Fatalf("err = %v", err)
	}
	// arm64 without an arm64 image: the error names the command that builds one.
	if _, err := Current(dir, "arm64"); err == nil || !strings.Contains(err.Error(), "no arm64 fast image") ||
		!strings.Contains(err.Error(), "`paddock image build --arch arm64`") {
		t.Fatalf("arm64: err = %v", err)
	}
	if err := setCurrent(dir, Image{Kernel: filepath.Join(dir, "gone"), Initrd: filepath.Join(dir, "gone")}); err != nil {
		t.Fatal(err)
	}
	if _, err := Current(dir, "amd64"); err == nil || !strings.Contains(err.Error(), "again") {
		t.Fatalf("missing files: %v", err)
	}
	// An amd64 image does not stand in for an arm64 one.
	if _, err := Current(dir, "arm64"); err == nil || !strings.Contains(err.Error(), "--arch arm64") {
		t.Fatalf("arm64 with only amd64 built: %v", err)
	}
}

func TestPruneKeepsOnlyTheCurrentImage(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"0123456789abcdef", "fedcba9876543210", "aaaaaaaaaaaaaaaa", "debs", "notakey"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	setCurrent(dir, Image{Key: "fedcba9876543210", Arch: "amd64"})
	setCurrent(dir, Image{Key: "aaaaaaaaaaaaaaaa", Arch: "arm64"})
	prune(dir)
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if strings.Join(names, ",") != "aaaaaaaaaaaaaaaa,current-arm64.json,current.json,debs,fedcba9876543210,notakey" {
		t.Fatalf("after prune: %v", names)
	}
}

func TestBesideFindsArchOrPlainName(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "paddock")
	if got := Beside(self, "paddock-guest", "arm64"); got != filepath.Join(dir, "paddock-guest-arm64") {
		t.Fatalf("nothing built: %s", got)
	}
	os.WriteFile(filepath.Join(dir, "paddock-guest"), nil, 0o755)
	host := runtime.GOARCH
	if got := Beside(self, "paddock-guest", host); got != filepath.Join(dir, "paddock-guest") {
		t.Fatalf("plain name for the host's arch: %s", got)
	}
	os.WriteFile(filepath.Join(dir, "paddock-guest-"+host), nil, 0o755)
	old := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(dir, "paddock-guest"), old, old)
	if got := Beside(self, "paddock-guest", host); got != filepath.Join(dir, "paddock-guest-"+host) {
		t.Fatalf("the -ARCH name comes first: %s", got)
	}
	// A plain build newer than the -ARCH one (go build -o bin/ after an
	// earlier scripts/test) wins: the older one is stale.
	os.Chtimes(filepath.Join(dir, "paddock-guest-"+host), old.Add(-time.Hour), old.Add(-time.Hour))
	if got := Beside(self, "paddock-guest", host); got != filepath.Join(dir, "paddock-guest") {
		t.Fatalf("the newer plain build: %s", got)
	}
	if _, err := FindGuest(filepath.Join(dir, "none"), "arm64"); err == nil || !strings.Contains(err.Error(), "GOARCH=arm64") {
		t.Fatalf("FindGuest: %v", err)
	}
}

// A runner package baked into the image lands under RunnerCacheDir/SHA256
// with its files and modes; names cannot escape that directory and links
// are left out.
func TestRunnerPackageIsBakedUnderItsSHA256(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		typ  byte
		body string
	}{{"./", tar.TypeDir, ""}, {"./run.sh", tar.TypeReg, "#!/bin/sh\n"}, {"bin/", tar.TypeDir, ""},
		{"bin/Runner.Listener", tar.TypeReg, "ELF"}, {"../../etc/evil", tar.TypeReg, "x"}, {"link", tar.TypeSymlink, ""}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: f.typ, Mode: 0o755, Size: int64(len(f.body)), Linkname: "/etc/passwd"})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	zw.Close()
	file := filepath.Join(t.TempDir(), "runner.tar.gz")
	os.WriteFile(file, buf.Bytes(), 0o644)
	sum, files, err := runnerPackage(file)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(buf.Bytes())
	if sum != hex.EncodeToString(want[:]) {
		t.Fatalf("sum = %s", sum)
	}
	b, err := initramfs([]byte("G"), []byte("B"), nil, nil, nil, files...)
	if err != nil {
		t.Fatal(err)
	}
	got := readCPIO(t, b)
	root := RunnerCacheDir + "/" + sum + "/"
	if got[root+"run.sh"].body != "#!/bin/sh\n" || got[root+"bin/Runner.Listener"].body != "ELF" || got[root+"etc/evil"].body != "x" {
		t.Fatalf("baked files: %v", got)
	}
	if got[root+"run.sh"].mode != modeFile|0o755 {
		t.Fatalf("run.sh mode %o", got[root+"run.sh"].mode)
	}
	for name := range got {
		if strings.HasSuffix(name, "link") || strings.Contains(name, "..") || (strings.Contains(name, "evil") && !strings.HasPrefix(name, root)) {
			t.Fatalf("unexpected entry %s", name)
		}
	}
	if _, _, err := runnerPackage("/bin/sh"); err == nil || !strings.Contains(err.Error(), ".tar.gz") {
		t.Fatalf("not a tarball: %v", err)
	}
}

// A static binary of the right architecture that is not a paddock-guest of
// this protocol (here: a stale agent, played by any other program) is
// refused before anything is downloaded; the real agent is accepted.
func TestBuildRefusesGuestOfAnotherProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	build := func(dir, pkg string) []byte {
		out := filepath.Join(t.TempDir(), "bin")
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, _ := lookupArch("amd64")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module stale\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644)
	stale := build(dir, ".")
	if err := checkGuest(stale, a); err == nil || !strings.Contains(err.Error(), "protocol") {
		t.Fatalf("a program without the protocol marker: %v", err)
	}
	if err := checkGuest(build("", "github.com/paddock-ci/paddock/cmd/paddock-guest"), a); err != nil {
		t.Fatalf("the real agent: %v", err)
	}
}
