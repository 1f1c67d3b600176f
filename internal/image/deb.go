package image

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// kernelPackage resolves the versioned kernel package that Debian's
// linux-image-ARCH meta package currently points at.
func kernelPackage(ctx context.Context, a arch) (string, error) {
	meta := a.kernel + ":" + a.name
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", meta).Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w (%s)", meta, err, aptHint(a))
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") {
			return strings.TrimSuffix(f[1], ":"+a.name), nil
		}
	}
	return "", fmt.Errorf("%s depends on no linux-image-* package (%s)", meta, aptHint(a))
}

// aptHint says how to make apt know a architecture's packages.
func aptHint(a arch) string {
	if a.name == "amd64" {
		return "run apt-get update first"
	}
	return fmt.Sprintf("run `dpkg --add-architecture %s && apt-get update` first", a.name)
}

// download fetches a package's .deb for the architecture into dir with
// apt-get (without installing it) and returns its path; an already
// downloaded one is reused.
func download(ctx context.Context, dir, pkg string, a arch) (string, error) {
	pattern := filepath.Join(dir, pkg+"_*_"+a.name+".deb")
	if m, _ := filepath.Glob(pattern); len(m) > 0 {
		sort.Strings(m)
		return m[len(m)-1], nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "apt-get", "download", pkg+":"+a.name)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download %s:%s: %w: %s (%s)", pkg, a.name, err, bytes.TrimSpace(out), aptHint(a))
	}
	m, _ := filepath.Glob(pattern)
	if len(m) == 0 {
		return "", fmt.Errorf("apt-get download %s:%s left no .deb in %s", pkg, a.name, dir)
	}
	return m[0], nil
}

// debFiles streams a .deb's data archive (via dpkg-deb) and returns the
// regular files for which want returns true, keyed by path without "./".
func debFiles(ctx context.Context, deb string, want func(string) bool) (map[string][]byte, error) {
	cmd := exec.CommandContext(ctx, "dpkg-deb", "--fsys-tarfile", deb)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("dpkg-deb: %w", err)
	}
	out := map[string][]byte{}
	tr := tar.NewReader(stdout)
	var rerr error
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		if hdr.Typeflag != tar.TypeReg || !want(name) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			rerr = err
			break
		}
		out[name] = b
	}
	_, _ = io.Copy(io.Discard, stdout)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("dpkg-deb --fsys-tarfile %s: %w: %s", deb, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if rerr != nil {
		return nil, fmt.Errorf("reading %s: %w", deb, rerr)
	}
	return out, nil
}

// modName is a module's canonical name: file base without .ko, "-" as "_".
func modName(path string) string {
	return strings.ReplaceAll(strings.TrimSuffix(filepath.Base(path), ".ko"), "-", "_")
}

// modDepends reads the "depends=" entry of a module's .modinfo section: the
// kernel package ships no modules.dep (depmod makes it at install time).
func modDepends(ko []byte) ([]string, error) {
	f, err := elf.NewFile(bytes.NewReader(ko))
	if err != nil {
		return nil, err
	}
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, errors.New("no .modinfo section")
	}
	data, err := sec.Data()
	if err != nil {
		return nil, err
	}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if v, ok := bytes.CutPrefix(kv, []byte("depends=")); ok {
			var deps []string
			for _, d := range strings.Split(string(v), ",") {
				if d != "" {
					deps = append(deps, strings.ReplaceAll(d, "-", "_"))
				}
			}
			return deps, nil
		}
	}
	return nil, nil
}

// loadOrder returns the modules to insmod, dependencies first, for the
// wanted module names. mods maps canonical module name to its path; deps
// reads a module's dependencies from its path; builtin names what the
// kernel has built in (modules.builtin), which needs no loading. Modules
// in skip (loaded already) are left out.
func loadOrder(mods map[string]string, builtin map[string]bool, deps func(path string) ([]string, error), wanted []string, skip []string) ([]string, error) {
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	for _, p := range skip {
		state[modName(p)] = 2
	}
	var visit func(string) error
	visit = func(name string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("module dependency cycle at %s", name)
		case 2:
			return nil
		}
		path, ok := mods[name]
		if !ok && builtin[name] {
			state[name] = 2 // part of the kernel itself on this architecture
			return nil
		}
		if !ok {
			return fmt.Errorf("module %s is not in the kernel package", name)
		}
		state[name] = 1
		ds, err := deps(path)
		if err != nil {
			return fmt.Errorf("module %s: %w", name, err)
		}
		for _, d := range ds {
			if err := visit(d); err != nil {
				return err
			}
		}
		state[name] = 2
		order = append(order, path)
		return nil
	}
	for _, w := range wanted {
		if err := visit(w); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// builtinModules parses modules.builtin (one kernel/…/name.ko per line).
func builtinModules(b []byte) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Fields(string(b)) {
		out[modName(l)] = true
	}
	return out
}
