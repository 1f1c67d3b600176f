package image

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os/exec"
)

// xzMagic starts an xz stream: Debian's x86 bzImage carries the kernel as one.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// vmlinux extracts the uncompressed ELF kernel from an x86 bzImage and
// checks that it has a PVH entry point (Xen ELF note 18), which QEMU needs to
// boot an ELF kernel directly.
func vmlinux(ctx context.Context, bzImage []byte) ([]byte, error) {
	i := bytes.Index(bzImage, xzMagic)
	if i < 0 {
		return nil, errors.New("kernel image holds no xz stream (not a Debian x86 bzImage?)")
	}
	// xz-utils, not a Go package: the kernel's stream uses the x86 BCJ
	// filter, which the Go xz readers do not implement.
	cmd := exec.CommandContext(ctx, "xz", "--decompress", "--stdout", "--single-stream")
	cmd.Stdin = bytes.NewReader(bzImage[i:])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("xz --decompress of the kernel: %w: %s (install Debian's xz-utils)", err, bytes.TrimSpace(stderr.Bytes()))
	}
	f, err := elf.NewFile(bytes.NewReader(out))
	if err != nil {
		return nil, fmt.Errorf("decompressed kernel is not ELF: %w", err)
	}
	if !hasPVHNote(f) {
		return nil, errors.New("kernel has no PVH entry point (CONFIG_PVH); QEMU cannot boot it as an ELF")
	}
	return out, nil
}

// hasPVHNote looks for XEN_ELFNOTE_PHYS32_ENTRY (type 18, owner "Xen").
func hasPVHNote(f *elf.File) bool {
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE {
			continue
		}
		b, err := io.ReadAll(p.Open())
		if err != nil {
			continue
		}
		for len(b) >= 12 {
			le := f.ByteOrder
			nsz, dsz, typ := le.Uint32(b), le.Uint32(b[4:]), le.Uint32(b[8:])
			name := align4(int(nsz))
			desc := align4(int(dsz))
			if 12+name+desc > len(b) {
				break
			}
			if typ == 18 && string(bytes.TrimRight(b[12:12+int(nsz)], "\x00")) == "Xen" {
				return true
			}
			b = b[12+name+desc:]
		}
	}
	return false
}

func align4(n int) int { return (n + 3) &^ 3 }
