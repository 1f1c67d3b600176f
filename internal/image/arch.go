package image

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// An arch is what the image builder needs to know about one guest
// architecture: Debian's names for it and the ELF machine its binaries have.
type arch struct {
	name    string // Go's and Debian's name: amd64, arm64
	kernel  string // the meta package whose dependency is the kernel package
	machine elf.Machine
	// pvh: the kernel is booted as the uncompressed ELF vmlinux through its
	// PVH entry point, which QEMU loads at host speed; the bzImage would
	// xz-decompress itself inside the guest, seconds under emulation. arm64's
	// Image.gz is decompressed by QEMU on the host already.
	pvh bool
}

var arches = map[string]arch{
	"amd64": {name: "amd64", kernel: "linux-image-amd64", machine: elf.EM_X86_64, pvh: true},
	"arm64": {name: "arm64", kernel: "linux-image-arm64", machine: elf.EM_AARCH64},
}

// Arches lists the architectures the builder makes images for.
var Arches = []string{"amd64", "arm64"}

func lookupArch(name string) (arch, error) {
	if name == "" {
		name = "amd64"
	}
	a, ok := arches[name]
	if !ok {
		return arch{}, fmt.Errorf("image build: architecture %q: want amd64 or arm64", name)
	}
	return a, nil
}

// DefaultGuest is where `paddock image build` looks for the guest agent:
// paddock-guest-ARCH beside the paddock binary self (see Beside).
func DefaultGuest(self, arch string) string { return Beside(self, "paddock-guest", arch) }

// Beside returns PROG-ARCH in the directory of the paddock binary self, or,
// when arch is this host's, PROG there (what `go build -o bin/ ./cmd/...`
// makes) if PROG-ARCH is missing or older: a fresh `go build` beside a
// PROG-ARCH left by an earlier scripts/test run must win, or the image
// would carry a stale agent.
func Beside(self, prog, arch string) string {
	dir := filepath.Dir(self)
	path := filepath.Join(dir, prog+"-"+archName(arch))
	if archName(arch) != runtime.GOARCH {
		return path
	}
	plain, err := os.Stat(filepath.Join(dir, prog))
	if err != nil {
		return path
	}
	if named, err := os.Stat(path); err == nil && !plain.ModTime().After(named.ModTime()) {
		return path
	}
	return filepath.Join(dir, prog)
}

// GuestBuildHint is the command that builds the guest agent for arch at path.
func GuestBuildHint(path, arch string) string {
	return fmt.Sprintf(`CGO_ENABLED=0 GOARCH=%s go build -trimpath -ldflags "-s -w" -o %s ./cmd/paddock-guest`, archName(arch), path)
}

// FindGuest returns path if it is a file, else an error that says how to
// build it.
func FindGuest(path, arch string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("no %s guest agent at %s: build it in Paddock's source tree with `%s`, or pass --guest", archName(arch), path, GuestBuildHint(path, arch))
	}
	return path, nil
}
