package qemu

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CloudImagePrefix marks a pool image as a cloud image: "qcow2:/abs/base.qcow2"
// boots that qcow2 (an Ubuntu or Debian cloud image with cloud-init) instead
// of the fast image. Any other pool image means the fast image.
const CloudImagePrefix = "qcow2:"

// defaultCloudScratchGB sizes a cloud image's scratch disk when neither the
// pool's disk size nor Options.ScratchGB does. The file is sparse.
const defaultCloudScratchGB = 10

// Files of a cloud-image instance, in its directory.
const (
	overlayFile = "overlay.qcow2"
	seedFile    = "seed.iso"
)

// cloudBase returns the base qcow2 named by a pool image, "" for the fast
// image, or an error for a cloud image QEMU could not use.
func cloudBase(poolImage string) (string, error) {
	path, ok := strings.CutPrefix(poolImage, CloudImagePrefix)
	if !ok {
		return "", nil
	}
	if !filepath.IsAbs(path) {
		return "", fmt.Errorf("cloud image %q: the qcow2 path must be absolute", poolImage)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("cloud image: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("cloud image %s is not a regular file", path)
	}
	return filepath.Clean(path), nil
}

// createOverlay makes the instance's copy-on-write disk over base. Every
// write of the guest lands in the overlay; QEMU opens a backing file
// read-only, so the base is never written and many VMs share it.
func createOverlay(ctx context.Context, qemuImg, base, overlay string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, qemuImg, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, overlay)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("qemu-img create overlay on %s: %w: %s", base, err, bytes.TrimSpace(out.Bytes()))
	}
	return os.Chmod(overlay, 0o600)
}

// prepareCloud writes a cloud-image instance's overlay and NoCloud seed into
// dir. The seed holds the token; Create deletes it once QEMU has opened it.
func (p *Provider) prepareCloud(ctx context.Context, dir, base, name, metadataURL, callbackURL, token string) error {
	if err := createOverlay(ctx, p.opts.QemuImg, base, filepath.Join(dir, overlayFile)); err != nil {
		return err
	}
	ud, err := userData(p.opts.Workspace)
	if err != nil {
		return err
	}
	md, err := metaData(name)
	if err != nil {
		return err
	}
	return writeSeed(filepath.Join(dir, seedFile), map[string][]byte{
		"user-data": ud, "meta-data": md, seedBootFile: bootEnv(name, metadataURL, callbackURL, token),
	})
}

// cloudScratchGB is a cloud image's scratch disk size: 0 for a RAM
// workspace, else the pool's disk size, Options.ScratchGB or the default.
func (p *Provider) cloudScratchGB(diskGB int) int {
	if p.opts.Workspace == WorkspaceTmpfs {
		return 0
	}
	return cmp.Or(diskGB, p.opts.ScratchGB, defaultCloudScratchGB)
}

// cloudBootArgs boot the overlay through the firmware (the image's own
// bootloader and kernel) with the seed as a second, read-only disk, which
// cloud-init finds by its label. x64 guests boot through SeaBIOS, QEMU's
// default; arm64 guests through UEFI in flash, with an entropy source, as
// the virt machine has none that a guest kernel trusts early and an
// emulated guest would otherwise wait for its random pool at boot.
func cloudBootArgs(v vmConfig) []string {
	var args []string
	if v.arch == "arm64" {
		args = append(firmwareArgs(v), "-device", "virtio-rng-pci")
	}
	return append(args,
		"-drive", "if=none,id=root,format=qcow2,cache=unsafe,discard=unmap,file="+optEscape(v.dir+"/"+overlayFile),
		"-device", "virtio-blk-pci,drive=root,bootindex=0",
		"-drive", "if=none,id=seed,format=raw,readonly=on,file="+optEscape(v.dir+"/"+seedFile),
		"-device", "virtio-blk-pci,drive=seed",
	)
}
