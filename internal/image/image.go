// Package image builds Paddock's "fast image": a Debian kernel plus an
// initramfs holding busybox, the small paddock-guest agent and a tiny init
// that boots the runner. Everything comes from Debian packages fetched with
// `apt-get download` and unpacked with dpkg-deb; nothing is installed on the
// host. Images are built for amd64 and arm64. The result boots in seconds
// even under software emulation (TCG).
package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/paddock-ci/paddock/internal/bootstrap"
)

// formatVersion changes whenever the image layout changes, so cached images
// from an older builder are rebuilt.
const formatVersion = "fast-2"

// Options configure a build.
type Options struct {
	// Dir holds the package cache and the built images.
	Dir string
	// Guest is the static paddock-guest binary (built for Arch) to put in
	// the image.
	Guest string
	// Arch is the guest architecture: amd64 (default) or arm64.
	Arch string
	// KernelPackage overrides the kernel package (default: what
	// linux-image-ARCH depends on).
	KernelPackage string
	// Compression of the initramfs: none (default) or gzip. Under emulation
	// the guest kernel inflates gzip far slower than QEMU copies the few
	// more megabytes (docs/performance.md has the numbers).
	Compression string
	// RunnerPackages are runner packages (.tar.gz) to bake into the image,
	// unpacked under RunnerCacheDir: a VM whose forge publishes one of them
	// (same sha256) starts it without downloading and unpacking it.
	RunnerPackages []string
	Logf           func(string, ...any)
}

// Image is a built fast image.
type Image struct {
	Kernel  string `json:"kernel"`
	Initrd  string `json:"initrd"`
	Version string `json:"kernel_version"`
	Key     string `json:"key"`
	// Arch is the guest architecture ("" in images from before arm64: amd64).
	Arch string `json:"arch,omitempty"`
}

// currentFile names the built image of an architecture the provider boots.
func currentFile(arch string) string {
	if arch == "" || arch == "amd64" {
		return "current.json"
	}
	return "current-" + arch + ".json"
}

// BuildCommand is the command that builds the fast image for arch.
func BuildCommand(arch string) string {
	if arch == "" || arch == "amd64" {
		return "paddock image build"
	}
	return "paddock image build --arch " + arch
}

// Current returns the image for arch ("" = amd64) last built into dir.
func Current(dir, arch string) (Image, error) {
	var img Image
	b, err := os.ReadFile(filepath.Join(dir, currentFile(arch)))
	if errors.Is(err, os.ErrNotExist) {
		return img, fmt.Errorf("no %s fast image in %s: run `%s` first", archName(arch), dir, BuildCommand(arch))
	}
	if err != nil {
		return img, err
	}
	if err := json.Unmarshal(b, &img); err != nil {
		return img, fmt.Errorf("%s: %w", filepath.Join(dir, currentFile(arch)), err)
	}
	for _, p := range []string{img.Kernel, img.Initrd} {
		if _, err := os.Stat(p); err != nil {
			return img, fmt.Errorf("%s fast image incomplete (%v): run `%s` again", archName(arch), err, BuildCommand(arch))
		}
	}
	img.Arch = archName(img.Arch)
	return img, nil
}

func archName(a string) string {
	if a == "" {
		return "amd64"
	}
	return a
}

// Build makes the fast image, or returns the cached one built from the same
// inputs (kernel and busybox packages, guest binary, init, module lists).
func Build(ctx context.Context, o Options) (Image, error) {
	if o.Dir == "" || o.Guest == "" {
		return Image{}, errors.New("image build: output dir and paddock-guest binary are required")
	}
	a, err := lookupArch(o.Arch)
	if err != nil {
		return Image{}, err
	}
	switch o.Compression {
	case "":
		o.Compression = "none"
	case "none", "gzip":
	default:
		return Image{}, fmt.Errorf("image build: compression %q: want none or gzip", o.Compression)
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	guest, err := os.ReadFile(o.Guest)
	if err != nil {
		return Image{}, fmt.Errorf("image build: %w", err)
	}
	if err := checkGuest(guest, a); err != nil {
		return Image{}, fmt.Errorf("image build: %s: %w", o.Guest, err)
	}
	kpkg := o.KernelPackage
	if kpkg == "" {
		if kpkg, err = kernelPackage(ctx, a); err != nil {
			return Image{}, err
		}
	}
	debs := filepath.Join(o.Dir, "debs")
	o.Logf("fetching %s and busybox-static (%s)", kpkg, a.name)
	kdeb, err := download(ctx, debs, kpkg, a)
	if err != nil {
		return Image{}, err
	}
	bdeb, err := download(ctx, debs, "busybox-static", a)
	if err != nil {
		return Image{}, err
	}
	var runners []runnerFile
	var runnerSums []string
	for _, f := range o.RunnerPackages {
		sum, files, err := runnerPackage(f)
		if err != nil {
			return Image{}, fmt.Errorf("image build: %w", err)
		}
		runners, runnerSums = append(runners, files...), append(runnerSums, sum)
	}
	h := sha256.New()
	guestSum := sha256.Sum256(guest)
	for _, part := range []string{formatVersion, a.name, o.Compression, filepath.Base(kdeb), filepath.Base(bdeb),
		hex.EncodeToString(guestSum[:]), InitScript, strings.Join(Modules, ","), strings.Join(ScratchModules, ","),
		strings.Join(runnerSums, ",")} {
		h.Write([]byte(part + "\x00"))
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	out := filepath.Join(o.Dir, key)
	img := Image{Kernel: filepath.Join(out, "vmlinuz"), Initrd: filepath.Join(out, "initrd.img"), Key: key, Arch: a.name}
	if b, err := os.ReadFile(filepath.Join(out, "image.json")); err == nil && json.Unmarshal(b, &img) == nil {
		o.Logf("image %s is up to date", key)
		return img, setCurrent(o.Dir, img)
	}
	o.Logf("building image %s", key)
	kfiles, err := debFiles(ctx, kdeb, func(p string) bool {
		return strings.HasPrefix(p, "boot/vmlinuz-") || strings.HasSuffix(p, ".ko") || strings.HasSuffix(p, "/modules.builtin")
	})
	if err != nil {
		return Image{}, err
	}
	bfiles, err := debFiles(ctx, bdeb, func(p string) bool { return p == "bin/busybox" })
	if err != nil {
		return Image{}, err
	}
	if bfiles["bin/busybox"] == nil {
		return Image{}, fmt.Errorf("%s has no bin/busybox", bdeb)
	}
	var kernel []byte
	mods := map[string]string{}
	builtin := map[string]bool{}
	for p, b := range kfiles {
		switch {
		case strings.HasPrefix(p, "boot/vmlinuz-"):
			kernel, img.Version = b, strings.TrimPrefix(p, "boot/vmlinuz-")
		case strings.HasSuffix(p, "/modules.builtin"):
			builtin = builtinModules(b)
		default:
			mods[modName(p)] = p
		}
	}
	if kernel == nil {
		return Image{}, fmt.Errorf("%s has no boot/vmlinuz-*", kdeb)
	}
	if a.pvh {
		if kernel, err = vmlinux(ctx, kernel); err != nil {
			return Image{}, fmt.Errorf("%s: %w", kdeb, err)
		}
		img.Kernel = filepath.Join(out, "vmlinux")
	}
	deps := func(p string) ([]string, error) { return modDepends(kfiles[p]) }
	order, err := loadOrder(mods, builtin, deps, Modules, nil)
	if err != nil {
		return Image{}, err
	}
	scratchOrder, err := loadOrder(mods, builtin, deps, ScratchModules, order)
	if err != nil {
		return Image{}, err
	}
	initrd, err := initramfs(guest, bfiles["bin/busybox"], kfiles, order, scratchOrder, runners...)
	if err != nil {
		return Image{}, err
	}
	if o.Compression == "gzip" {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(initrd)
		if err := zw.Close(); err != nil {
			return Image{}, err
		}
		initrd = buf.Bytes()
	}
	tmp := out + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return Image{}, err
	}
	meta, _ := json.Marshal(img)
	for name, b := range map[string][]byte{filepath.Base(img.Kernel): kernel, "initrd.img": initrd, "image.json": meta} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return Image{}, err
		}
	}
	_ = os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil {
		return Image{}, err
	}
	o.Logf("image %s (%s): kernel %s, initramfs %.1f MB (%s), %d runner package(s) baked in", key, a.name, img.Version,
		float64(len(initrd))/(1<<20), o.Compression, len(runnerSums))
	if err := setCurrent(o.Dir, img); err != nil {
		return img, err
	}
	prune(o.Dir)
	return img, nil
}

// prune removes images no current-*.json names, so rebuilding after every
// upgrade does not fill the disk. A running VM keeps its kernel and initramfs
// in memory, so deleting their files does not disturb it.
func prune(dir string) {
	keep := map[string]bool{}
	for _, a := range Arches {
		if b, err := os.ReadFile(filepath.Join(dir, currentFile(a))); err == nil {
			var img Image
			if json.Unmarshal(b, &img) == nil {
				keep[img.Key] = true
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() && !keep[n] && len(n) == 16 && strings.Trim(n, "0123456789abcdef") == "" {
			_ = os.RemoveAll(filepath.Join(dir, n))
		}
	}
}

func setCurrent(dir string, img Image) error {
	b, _ := json.Marshal(img)
	name := currentFile(img.Arch)
	tmp := filepath.Join(dir, name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, name))
}

// checkGuest refuses a dynamically linked binary (the initramfs has no libc),
// one built for another architecture, and one older than this manager (see
// bootstrap.GuestProtocol; the marker is searched for, not run, since the
// agent may be built for another architecture).
func checkGuest(b []byte, a arch) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	if f.Machine != a.machine {
		return fmt.Errorf("built for %s, not %s; build it with GOARCH=%s (see `paddock image build --help`)", f.Machine, a.name, a.name)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; build it with CGO_ENABLED=0 (see `paddock image build --help`)")
		}
	}
	if !bytes.Contains(b, []byte(bootstrap.GuestProtocol)) {
		return fmt.Errorf("not a paddock-guest that speaks this paddock's protocol (%s): it is older or from other sources; rebuild it (see `paddock image build --help`)", bootstrap.GuestProtocol)
	}
	return nil
}

// initramfs lays out the root file system: busybox, paddock-guest, /init,
// the modules and the order to load them in: order at every boot,
// scratchOrder only when the VM has a scratch disk.
func initramfs(guest, busybox []byte, kfiles map[string][]byte, order, scratchOrder []string, runners ...runnerFile) ([]byte, error) {
	var buf bytes.Buffer
	c := &cpioWriter{w: &buf}
	dirs := map[string]bool{}
	var mkdirs func(string) error
	mkdirs = func(d string) error {
		if d == "." || d == "/" || dirs[d] {
			return nil
		}
		if err := mkdirs(filepath.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		return c.entry(d, modeDir|0o755, nil)
	}
	add := func(name string, mode uint32, body []byte) error {
		if err := mkdirs(filepath.Dir(name)); err != nil {
			return err
		}
		return c.entry(name, mode, body)
	}
	for _, d := range []string{"bin", "sbin", "usr/bin", "usr/sbin", "etc/paddock", "proc", "sys", "dev", "tmp", "work", "run"} {
		if err := mkdirs(d); err != nil {
			return nil, err
		}
	}
	all := append(append([]string(nil), order...), scratchOrder...)
	sort.Strings(all)
	for _, p := range all {
		rel := strings.TrimPrefix(p, "lib/modules/")
		if err := add("lib/modules/"+rel, modeFile|0o644, kfiles[p]); err != nil {
			return nil, err
		}
	}
	list := func(paths []string) []byte {
		var b strings.Builder
		for _, p := range paths {
			b.WriteString(strings.TrimPrefix(p, "lib/modules/") + "\n")
		}
		return []byte(b.String())
	}
	files := []struct {
		name string
		mode uint32
		body []byte
	}{
		{"bin/busybox", modeFile | 0o755, busybox},
		{"bin/sh", modeLink | 0o777, []byte("busybox")},
		{"bin/paddock-guest", modeFile | 0o755, guest},
		{"init", modeFile | 0o755, []byte(InitScript)},
		{"etc/paddock/modules", modeFile | 0o644, list(order)},
		{"etc/paddock/modules-scratch", modeFile | 0o644, list(scratchOrder)},
		{"etc/passwd", modeFile | 0o644, []byte("root:x:0:0:root:/work:/bin/sh\n")},
		{"etc/group", modeFile | 0o644, []byte("root:x:0:\n")},
	}
	for _, f := range files {
		if err := add(f.name, f.mode, f.body); err != nil {
			return nil, err
		}
	}
	for _, f := range runners {
		if f.mode&0o170000 == modeDir {
			if err := mkdirs(f.name); err != nil {
				return nil, err
			}
		} else if err := add(f.name, f.mode, f.body); err != nil {
			return nil, err
		}
	}
	if err := c.close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DefaultDir is where images live under a Paddock state dir.
func DefaultDir(stateDir string) string { return filepath.Join(stateDir, "images", "fast") }
