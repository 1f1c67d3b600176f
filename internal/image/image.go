// Package image builds Paddock's "fast image": a Debian kernel plus an
// initramfs holding busybox, the paddock binary and a tiny init that boots
// the runner. Everything comes from Debian packages fetched with
// `apt-get download` and unpacked with dpkg-deb; nothing is installed on the
// host. The result boots in seconds even under software emulation (TCG).
package image

import (
	"bytes"
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
)

// formatVersion changes whenever the image layout changes, so cached images
// from an older builder are rebuilt.
const formatVersion = "fast-1"

// Options configure a build.
type Options struct {
	// Dir holds the package cache and the built images.
	Dir string
	// Paddock is the static paddock binary to put in the image.
	Paddock string
	// KernelPackage overrides the kernel package (default: what
	// linux-image-amd64 depends on).
	KernelPackage string
	Logf          func(string, ...any)
}

// Image is a built fast image.
type Image struct {
	Kernel  string `json:"kernel"`
	Initrd  string `json:"initrd"`
	Version string `json:"kernel_version"`
	Key     string `json:"key"`
}

// currentFile names the built image the provider boots.
const currentFile = "current.json"

// Current returns the image last built into dir.
func Current(dir string) (Image, error) {
	var img Image
	b, err := os.ReadFile(filepath.Join(dir, currentFile))
	if errors.Is(err, os.ErrNotExist) {
		return img, fmt.Errorf("no fast image in %s: run `paddock image build` first", dir)
	}
	if err != nil {
		return img, err
	}
	if err := json.Unmarshal(b, &img); err != nil {
		return img, fmt.Errorf("%s: %w", filepath.Join(dir, currentFile), err)
	}
	for _, p := range []string{img.Kernel, img.Initrd} {
		if _, err := os.Stat(p); err != nil {
			return img, fmt.Errorf("fast image incomplete (%v): run `paddock image build` again", err)
		}
	}
	return img, nil
}

// Build makes the fast image, or returns the cached one built from the same
// inputs (kernel and busybox packages, paddock binary, init, module list).
func Build(ctx context.Context, o Options) (Image, error) {
	if o.Dir == "" || o.Paddock == "" {
		return Image{}, errors.New("image build: output dir and paddock binary are required")
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	self, err := os.ReadFile(o.Paddock)
	if err != nil {
		return Image{}, fmt.Errorf("image build: %w", err)
	}
	if err := checkStatic(self); err != nil {
		return Image{}, fmt.Errorf("image build: %s: %w", o.Paddock, err)
	}
	kpkg := o.KernelPackage
	if kpkg == "" {
		if kpkg, err = kernelPackage(ctx); err != nil {
			return Image{}, err
		}
	}
	debs := filepath.Join(o.Dir, "debs")
	o.Logf("fetching %s and busybox-static", kpkg)
	kdeb, err := download(ctx, debs, kpkg)
	if err != nil {
		return Image{}, err
	}
	bdeb, err := download(ctx, debs, "busybox-static")
	if err != nil {
		return Image{}, err
	}
	h := sha256.New()
	selfSum := sha256.Sum256(self)
	for _, part := range []string{formatVersion, filepath.Base(kdeb), filepath.Base(bdeb),
		hex.EncodeToString(selfSum[:]), InitScript, strings.Join(Modules, ",")} {
		h.Write([]byte(part + "\x00"))
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	out := filepath.Join(o.Dir, key)
	img := Image{Kernel: filepath.Join(out, "vmlinuz"), Initrd: filepath.Join(out, "initrd.img"), Key: key}
	if b, err := os.ReadFile(filepath.Join(out, "image.json")); err == nil && json.Unmarshal(b, &img) == nil {
		o.Logf("image %s is up to date", key)
		return img, setCurrent(o.Dir, img)
	}
	o.Logf("building image %s", key)
	kfiles, err := debFiles(ctx, kdeb, func(p string) bool {
		return strings.HasPrefix(p, "boot/vmlinuz-") || strings.HasSuffix(p, ".ko")
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
	for p, b := range kfiles {
		if strings.HasPrefix(p, "boot/vmlinuz-") {
			kernel, img.Version = b, strings.TrimPrefix(p, "boot/vmlinuz-")
		} else {
			mods[modName(p)] = p
		}
	}
	if kernel == nil {
		return Image{}, fmt.Errorf("%s has no boot/vmlinuz-*", kdeb)
	}
	order, err := loadOrder(mods, func(p string) ([]string, error) { return modDepends(kfiles[p]) }, Modules)
	if err != nil {
		return Image{}, err
	}
	initrd, err := initramfs(self, bfiles["bin/busybox"], kfiles, order)
	if err != nil {
		return Image{}, err
	}
	tmp := out + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return Image{}, err
	}
	meta, _ := json.Marshal(img)
	for name, b := range map[string][]byte{"vmlinuz": kernel, "initrd.img": initrd, "image.json": meta} {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			return Image{}, err
		}
	}
	_ = os.RemoveAll(out)
	if err := os.Rename(tmp, out); err != nil {
		return Image{}, err
	}
	o.Logf("image %s: kernel %s, initramfs %d MB", key, img.Version, len(initrd)>>20)
	if err := setCurrent(o.Dir, img); err != nil {
		return img, err
	}
	prune(o.Dir, key)
	return img, nil
}

// prune removes images built before this one, so rebuilding after every
// upgrade does not fill the disk. A running VM keeps its kernel and initramfs
// in memory, so deleting their files does not disturb it.
func prune(dir, keep string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() && n != keep && len(n) == 16 && strings.Trim(n, "0123456789abcdef") == "" {
			_ = os.RemoveAll(filepath.Join(dir, n))
		}
	}
}

func setCurrent(dir string, img Image) error {
	b, _ := json.Marshal(img)
	tmp := filepath.Join(dir, currentFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, currentFile))
}

// checkStatic refuses a dynamically linked binary: the initramfs has no libc.
func checkStatic(b []byte) error {
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("not an ELF binary: %w", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked; build paddock with CGO_ENABLED=0 or pass --paddock with a static build")
		}
	}
	return nil
}

// initramfs lays out the root file system: busybox, paddock, /init, the
// modules and the order to load them in.
func initramfs(paddock, busybox []byte, kfiles map[string][]byte, order []string) ([]byte, error) {
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
	var list []string
	sorted := append([]string(nil), order...)
	sort.Strings(sorted)
	for _, p := range sorted {
		rel := strings.TrimPrefix(p, "lib/modules/")
		if err := add("lib/modules/"+rel, modeFile|0o644, kfiles[p]); err != nil {
			return nil, err
		}
	}
	for _, p := range order {
		list = append(list, strings.TrimPrefix(p, "lib/modules/"))
	}
	files := []struct {
		name string
		mode uint32
		body []byte
	}{
		{"bin/busybox", modeFile | 0o755, busybox},
		{"bin/sh", modeLink | 0o777, []byte("busybox")},
		{"bin/paddock", modeFile | 0o755, paddock},
		{"init", modeFile | 0o755, []byte(InitScript)},
		{"etc/paddock/modules", modeFile | 0o644, []byte(strings.Join(list, "\n") + "\n")},
		{"etc/passwd", modeFile | 0o644, []byte("root:x:0:0:root:/work:/bin/sh\n")},
		{"etc/group", modeFile | 0o644, []byte("root:x:0:\n")},
	}
	for _, f := range files {
		if err := add(f.name, f.mode, f.body); err != nil {
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
