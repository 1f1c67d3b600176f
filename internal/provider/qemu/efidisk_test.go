package qemu_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/gpt"

	"github.com/paddock-ci/paddock/internal/image"
)

// efiDiskInit is the test disk's /init, in place of the fast image's: what
// cloud-init does with Paddock's NoCloud seed, reduced to what a busybox
// initramfs can do. It finds the seed by trying each virtio disk as ISO 9660
// with the cidata files (the label cloud-init looks for), checks that the
// user-data is Paddock's #cloud-config, reads the boot settings from the
// seed as the user-data's bootstrap does, and hands them to the fast
// image's paddock-guest, which fetches the runner from the metadata endpoint.
const efiDiskInit = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /seed && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
read -r up _ < /proc/uptime
echo "paddock-init: up $up"
while read -r m; do insmod "/lib/modules/$m"; done < /etc/paddock/modules
insmod /lib/modules/cdrom.ko
insmod /lib/modules/isofs.ko
echo "efi-disk: booted by UEFI firmware and GRUB: $(cat /proc/cmdline)"
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
seed=
for d in /dev/vd?; do
	if mount -t iso9660 -o ro "$d" /seed 2>/dev/null; then
		if [ -f /seed/meta-data ] && [ -f /seed/paddock-boot.env ]; then seed=$d; break; fi
		umount /seed
	fi
done
if [ -z "$seed" ]; then
	echo "efi-disk: no NoCloud seed"
elif ! head -1 /seed/user-data | grep -qx '#cloud-config'; then
	echo "efi-disk: the seed's user-data is not #cloud-config"
else
	echo "efi-disk: NoCloud seed on $seed: $(cat /seed/meta-data | tr '\n' ' ')"
	. /seed/paddock-boot.env
	umount /seed
	export PADDOCK_INSTANCE_NAME PADDOCK_METADATA_URL="$METADATA_URL" PADDOCK_CALLBACK_URL="$CALLBACK_URL" PADDOCK_INSTANCE_TOKEN="$BEARER_TOKEN"
	mkdir -p /work && cd /work && HOME=/work PATH=/bin:/sbin:/usr/bin:/usr/sbin /bin/paddock-guest boot
	echo "efi-disk: paddock-guest exited with $?"
fi
sync
poweroff -f
`

// efiGrubCfg is GRUB's configuration, in its memdisk: the kernel and
// initramfs are on the EFI system partition beside it.
const efiGrubCfg = `set timeout=0
insmod part_gpt
insmod fat
search --no-floppy --file --set=root /paddock/vmlinuz
echo "efi-disk: GRUB loading the kernel from $root"
linux ($root)/paddock/vmlinuz console=ttyAMA0 quiet panic=-1 cryptomgr.notests audit=0 apparmor=0
initrd ($root)/paddock/initrd.img
boot
`

// buildEFIDisk makes the smallest real arm64 UEFI cloud disk (a qcow2), for
// tests that must stay short: a GPT disk whose EFI system partition holds
// GRUB on the removable path (EFI/BOOT/BOOTAA64.EFI, made with the host's
// grub-mkstandalone from Debian's grub-efi-arm64-bin modules), Debian's
// arm64 kernel and an initramfs (the arm64 fast image's, with efiDiskInit
// and the isofs module added) that consumes the NoCloud seed. A full
// Debian cloud image is built by scripts/arm64-cloud-image instead.
func buildEFIDisk(t *testing.T) string {
	t.Helper()
	for prog, pkg := range map[string]string{"grub-mkstandalone": "grub-common", "dpkg-deb": "dpkg", "apt-get": "apt", "qemu-img": "qemu-utils"} {
		if _, err := exec.LookPath(prog); err != nil {
			msg := fmt.Sprintf("%s is not installed (Debian package %s): the arm64 EFI test disk cannot be built", prog, pkg)
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip("!!! ARM64 CLOUD-IMAGE TEST SKIPPED: " + msg)
		}
	}
	img, err := image.Current(imageDir, "arm64")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	debs := filepath.Join(imageDir, "debs")
	grubDeb, err := aptDownload(debs, "grub-efi-arm64-bin:arm64", "grub-efi-arm64-bin_*_arm64.deb")
	if err != nil {
		t.Fatal(err)
	}
	grubDir := filepath.Join(work, "grub")
	if out, err := exec.Command("dpkg-deb", "-x", grubDeb, grubDir).CombinedOutput(); err != nil {
		t.Fatalf("unpack %s: %v %s", grubDeb, err, out)
	}
	cfg := filepath.Join(work, "grub.cfg")
	if err := os.WriteFile(cfg, []byte(efiGrubCfg), 0o644); err != nil {
		t.Fatal(err)
	}
	efi := filepath.Join(work, "BOOTAA64.EFI")
	mk := exec.Command("grub-mkstandalone", "-O", "arm64-efi", "-d", filepath.Join(grubDir, "usr/lib/grub/arm64-efi"),
		"--locales=", "--fonts=", "--themes=",
		"-o", efi, "boot/grub/grub.cfg="+cfg)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("grub-mkstandalone: %v %s", err, out)
	}

	kdebs, _ := filepath.Glob(filepath.Join(debs, "linux-image-"+img.Version+"_*_arm64.deb"))
	if len(kdebs) == 0 {
		t.Fatalf("the arm64 kernel package of %s is not in %s", img.Version, debs)
	}
	isofs, err := debFile(kdebs[0], "/kernel/fs/isofs/isofs.ko")
	if err != nil {
		t.Fatal(err)
	}
	cdrom, err := debFile(kdebs[0], "/kernel/drivers/cdrom/cdrom.ko") // isofs needs it
	if err != nil {
		t.Fatal(err)
	}
	initrd, err := os.ReadFile(img.Initrd)
	if err != nil {
		t.Fatal(err)
	}
	// A second cpio archive after the first: the kernel unpacks both, and
	// the later /init replaces the fast image's.
	initrd = append(initrd, make([]byte, (4-len(initrd)%4)%4)...)
	initrd = append(initrd, newc([]cpioFile{{"init", 0o100755, []byte(efiDiskInit)}, {"lib/modules/isofs.ko", 0o100644, isofs},
		{"lib/modules/cdrom.ko", 0o100644, cdrom}})...)

	raw := filepath.Join(work, "disk.img")
	if err := writeESPDisk(raw, map[string]string{"/EFI/BOOT/BOOTAA64.EFI": efi, "/paddock/vmlinuz": img.Kernel},
		map[string][]byte{"/paddock/initrd.img": initrd}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(work, "arm64-efi.qcow2")
	if b, err := exec.Command("qemu-img", "convert", "-O", "qcow2", raw, out).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v %s", err, b)
	}
	os.Remove(raw)
	return out
}

// writeESPDisk writes a raw GPT disk with one EFI system partition (FAT32)
// holding the given files (from host paths or bytes).
func writeESPDisk(path string, files map[string]string, blobs map[string][]byte) error {
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		total += fi.Size()
	}
	for _, b := range blobs {
		total += int64(len(b))
	}
	espSize := max(total+total/4+(16<<20), 64<<20) &^ (1<<20 - 1)
	d, err := diskfs.Create(path, espSize+(2<<20), diskfs.SectorSizeDefault)
	if err != nil {
		return err
	}
	defer d.Close()
	table := &gpt.Table{LogicalSectorSize: 512, PhysicalSectorSize: 512, ProtectiveMBR: true,
		Partitions: []*gpt.Partition{{Index: 1, Start: 2048, End: 2048 + uint64(espSize/512) - 1, Type: gpt.EFISystemPartition, Name: "EFI"}}}
	if err := d.Partition(table); err != nil {
		return err
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 1, FSType: filesystem.TypeFat32, VolumeLabel: "EFI"})
	if err != nil {
		return err
	}
	put := func(name string, r io.Reader) error {
		if err := fs.Mkdir(filepath.Dir(name)); err != nil {
			return err
		}
		f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := io.Copy(f, r); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return f.Close()
	}
	for name, src := range files {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		err = put(name, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	for name, b := range blobs {
		if err := put(name, bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return nil
}

// aptDownload returns the cached package matching glob in dir, downloading
// it with apt-get first if needed.
func aptDownload(dir, pkg, glob string) (string, error) {
	if m, _ := filepath.Glob(filepath.Join(dir, glob)); len(m) > 0 {
		return m[len(m)-1], nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "apt-get", "download", pkg)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("apt-get download %s: %v %s (the arm64 package lists come from `dpkg --add-architecture arm64 && apt-get update`)", pkg, err, out)
	}
	m, _ := filepath.Glob(filepath.Join(dir, glob))
	if len(m) == 0 {
		return "", fmt.Errorf("apt-get download %s left no %s", pkg, glob)
	}
	return m[len(m)-1], nil
}

// debFile returns the one file of a .deb whose path ends in suffix.
func debFile(deb, suffix string) ([]byte, error) {
	cmd := exec.Command("dpkg-deb", "--fsys-tarfile", deb)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer cmd.Wait()
	defer io.Copy(io.Discard, out)
	tr := tar.NewReader(out)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s has no file *%s", deb, suffix)
		}
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(h.Name, suffix) {
			return io.ReadAll(tr)
		}
	}
}

type cpioFile struct {
	name string
	mode uint32
	body []byte
}

// newc is a cpio archive in the kernel's initramfs format, directories
// included for each file's parents.
func newc(files []cpioFile) []byte {
	var b bytes.Buffer
	ino := 1
	entry := func(name string, mode uint32, body []byte) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			ino, mode, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(name)+1, 0)
		ino++
		b.WriteString(name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(body)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	seen := map[string]bool{}
	for _, f := range files {
		var parents []string
		for dir := filepath.Dir(f.name); dir != "." && !seen[dir]; dir = filepath.Dir(dir) {
			seen[dir] = true
			parents = append([]string{dir}, parents...)
		}
		for _, p := range parents {
			entry(p, 0o40755, nil)
		}
		entry(f.name, f.mode, f.body)
	}
	entry("TRAILER!!!", 0, nil)
	return b.Bytes()
}
