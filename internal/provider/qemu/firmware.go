package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// uefiShellMarker is what the firmware prints when it falls back to its
// built-in shell: no boot entry and no removable-path loader
// (EFI/BOOT/BOOTAA64.EFI) on any disk would start.
var uefiShellMarker = regexp.MustCompile(`BdsDxe: starting Boot[0-9A-F]{4} "EFI Internal Shell"`)

// The UEFI firmware arm64 cloud images boot through: AAVMF, Debian's build
// of EDK2 for QEMU's virt machine (package qemu-efi-aarch64). x64 cloud
// images need none: SeaBIOS, built into QEMU, boots them.
const (
	DefaultFirmwareArm64     = "/usr/share/AAVMF/AAVMF_CODE.fd"
	DefaultFirmwareVarsArm64 = "/usr/share/AAVMF/AAVMF_VARS.fd"
	firmwarePackageArm64     = "qemu-efi-aarch64"
	// efiVarsFile is an instance's own copy of the variable store template:
	// the firmware writes its boot entries there, so no two VMs share one.
	efiVarsFile = "efivars.fd"
)

// checkFirmware says whether the firmware files are there, naming the package
// that ships them and the settings that point elsewhere.
func checkFirmware(code, vars string) error {
	for _, f := range []struct{ path, key string }{{code, "firmware_arm64"}, {vars, "firmware_vars_arm64"}} {
		fi, err := os.Stat(f.path)
		if err == nil && !fi.Mode().IsRegular() {
			err = errors.New("not a regular file")
		}
		if err != nil {
			return fmt.Errorf("qemu provider: arm64 cloud images boot through UEFI firmware, and %s is not usable (%v): install Debian's %s package or set %s",
				f.path, unwrapPath(err), firmwarePackageArm64, f.key)
		}
	}
	return nil
}

// unwrapPath drops the path a *PathError repeats.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// copyVars gives an instance its own variable store from the template,
// sparse: the template is 64 MiB (the virt machine's flash size) and Debian's
// is all zeros, which the firmware formats on first boot.
func copyVars(template, dst string) error {
	in, err := os.Open(template)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	buf, zero := make([]byte, 64<<10), make([]byte, 64<<10)
	var size int64
	for {
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			if bytes.Equal(buf[:n], zero[:n]) {
				_, err = out.Seek(int64(n), io.SeekCurrent)
			} else {
				_, err = out.Write(buf[:n])
			}
			if err != nil {
				out.Close()
				return err
			}
			size += int64(n)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			out.Close()
			return rerr
		}
	}
	if err := out.Truncate(size); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// firmwareArgs are the arm64 cloud image's UEFI flash: the firmware code
// read-only (shared by every VM), then the instance's variable store.
func firmwareArgs(v vmConfig) []string {
	return []string{
		"-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + optEscape(v.firmware),
		"-drive", "if=pflash,format=raw,unit=1,file=" + optEscape(filepath.Join(v.dir, efiVarsFile)),
	}
}

// noteFirmwareFault explains, in the log, a cloud-image VM whose firmware
// found nothing to boot: such a VM never calls back, so the pool sees only
// its bootstrap timeout. The console is read as the VM is deleted.
func (p *Provider) noteFirmwareFault(dir string, rec record) {
	if rec.CloudImage == "" || rec.Arch != "arm64" {
		return
	}
	b, err := os.ReadFile(filepath.Join(dir, "console.log"))
	if err != nil || !uefiShellMarker.Match(b) {
		return
	}
	p.opts.Logger.Warn("qemu: VM never started an operating system: the UEFI firmware found no boot loader on its cloud image; "+
		"an arm64 pool needs an arm64 UEFI disk image (GPT, EFI system partition with EFI/BOOT/BOOTAA64.EFI)",
		"name", rec.Name, "image", rec.CloudImage)
}
