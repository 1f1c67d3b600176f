// Package scratch turns a VM's blank scratch disk into an encrypted
// device-mapper volume (dm-crypt, aes-xts-plain64) whose key is generated
// inside the guest and handed straight to the kernel: it is never written
// anywhere, so the disk image left on the host is unreadable ciphertext and
// the data dies with the VM.
//
// It talks to the device mapper through its ioctl interface directly because
// the fast image has no cryptsetup or dmsetup (and their shared libraries).
package scratch

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// Layout of struct dm_ioctl and struct dm_target_spec (linux/dm-ioctl.h).
const (
	dmIoctlSize  = 312
	dmSpecSize   = 40
	dmNameOffset = 48
	dmNameLen    = 128
	dmIoctlMagic = 0xfd

	dmDevCreate  = 3
	dmDevSuspend = 6 // without DM_SUSPEND_FLAG it resumes, making a loaded table live
	dmTableLoad  = 9
)

func dmIoctlNr(cmd uintptr) uintptr {
	const iocReadWrite = 3
	return iocReadWrite<<30 | dmIoctlSize<<16 | dmIoctlMagic<<8 | cmd
}

// header builds a dm_ioctl of total size n for the named device.
func header(name string, n int) []byte {
	b := make([]byte, n)
	binary.LittleEndian.PutUint32(b[0:], 4) // interface version 4.0.0
	binary.LittleEndian.PutUint32(b[12:], uint32(n))
	binary.LittleEndian.PutUint32(b[16:], dmIoctlSize) // data_start
	copy(b[dmNameOffset:dmNameOffset+dmNameLen-1], name)
	return b
}

// tableLoad is a dm_ioctl carrying one target: sectors [0, sectors) of type
// target with params.
func tableLoad(name string, sectors uint64, target, params string) []byte {
	specLen := (dmSpecSize + len(params) + 1 + 7) &^ 7
	b := header(name, dmIoctlSize+specLen)
	binary.LittleEndian.PutUint32(b[20:], 1) // target_count
	s := b[dmIoctlSize:]
	binary.LittleEndian.PutUint64(s[8:], sectors)
	binary.LittleEndian.PutUint32(s[20:], uint32(specLen)) // next
	copy(s[24:40], target)
	copy(s[dmSpecSize:], params)
	return b
}

func ioctl(fd uintptr, cmd uintptr, b []byte) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, fd, dmIoctlNr(cmd), uintptr(unsafe.Pointer(&b[0]))); errno != 0 {
		return errno
	}
	return nil
}

// Open maps device through dm-crypt with a fresh random key as the device
// mapper volume name, and returns the path of the decrypted block device.
func Open(device, name string) (string, error) {
	if name == "" || len(name) >= dmNameLen || strings.ContainsRune(name, '/') {
		return "", fmt.Errorf("scratch: bad volume name %q", name)
	}
	sectors, err := sizeSectors(device)
	if err != nil {
		return "", err
	}
	key := make([]byte, 64) // two AES-256 keys for XTS
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	hexKey := []byte(hex.EncodeToString(key))
	clear(key)
	params := fmt.Sprintf("aes-xts-plain64 %s 0 %s 0", hexKey, device)
	clear(hexKey)
	ctl, err := os.OpenFile("/dev/mapper/control", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("scratch: device mapper: %w (is dm_mod loaded?)", err)
	}
	defer ctl.Close()
	if err := ioctl(ctl.Fd(), dmDevCreate, header(name, dmIoctlSize)); err != nil {
		return "", fmt.Errorf("scratch: create %s: %w", name, err)
	}
	load := tableLoad(name, sectors, "crypt", params)
	err = ioctl(ctl.Fd(), dmTableLoad, load)
	clear(load)
	if err != nil {
		return "", fmt.Errorf("scratch: load crypt table: %w (is dm_crypt loaded?)", err)
	}
	if err := ioctl(ctl.Fd(), dmDevSuspend, header(name, dmIoctlSize)); err != nil {
		return "", fmt.Errorf("scratch: activate %s: %w", name, err)
	}
	return findDevice(name)
}

// sizeSectors reads a block device's size in 512-byte sectors from sysfs.
func sizeSectors(device string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(device), "size"))
	if err != nil {
		return 0, fmt.Errorf("scratch: size of %s: %w", device, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("scratch: %s has no usable size", device)
	}
	return n, nil
}

// findDevice finds /dev/dm-N for a volume name (there is no udev to make
// /dev/mapper/NAME).
func findDevice(name string) (string, error) {
	m, _ := filepath.Glob("/sys/block/dm-*/dm/name")
	for _, p := range m {
		if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == name {
			return "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(p))), nil
		}
	}
	return "", errors.New("scratch: the new volume has no block device")
}
