package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

// A VM restored from a snapshot template was booted once without any
// identity and saved while this agent waited on a virtio-serial port. After
// each restore the host writes the identity on that port: the boot settings
// a cold boot reads from fw_cfg, plus the host's clock and fresh entropy,
// because every clone of the template wakes up with the template's clock and
// the template's random-generator state.

// identityMax bounds what the host may send; the identity is a few hundred bytes.
const identityMax = 16 << 10

// identityKeys are the settings the identity may carry. Only these are
// accepted, each once.
var identityKeys = map[string]bool{
	"PADDOCK_INSTANCE_NAME": true, "PADDOCK_METADATA_URL": true, "PADDOCK_CALLBACK_URL": true,
	"PADDOCK_INSTANCE_TOKEN": true, "PADDOCK_ENTROPY": true,
}

// parseIdentity reads KEY=VALUE lines up to a line "END".
func parseIdentity(r io.Reader) (map[string]string, error) {
	sc := bufio.NewScanner(io.LimitReader(r, identityMax))
	id := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		if line == "END" {
			for _, k := range []string{"PADDOCK_METADATA_URL", "PADDOCK_CALLBACK_URL", "PADDOCK_INSTANCE_TOKEN", "PADDOCK_ENTROPY"} {
				if id[k] == "" {
					return nil, fmt.Errorf("identity lacks %s", k)
				}
			}
			return id, nil
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || !identityKeys[k] || id[k] != "" {
			return nil, fmt.Errorf("identity line %q: want one of the known KEY=VALUE settings, each once", k)
		}
		id[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("identity ended before END")
}

// portReader reads the virtio-serial port with plain blocking reads. A read
// returns 0 while no host side is connected to the port (the template before
// the host connects, a clone restored before the provider connects); that
// is not the end of the identity, so it waits a moment and reads again.
type portReader struct{ fd int }

func (p portReader) Read(b []byte) (int, error) {
	for {
		n, err := syscall.Read(p.fd, b)
		if err == syscall.EINTR || err == syscall.EAGAIN || (err == nil && n == 0) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// waitIdentity opens the port (its device node appears shortly after the
// virtio_console module loads: the host announces ports asynchronously), tells
// the console it waits (the provider saves the template when it sees that),
// and returns the identity once the host has sent it. The exchange:
//
//	host:  KEY=VALUE lines, END     guest: OK
//	host:  PADDOCK_TIME_NS=<now>    guest: OK
//
// The time comes last, when the VM is surely running (the restore may still
// be loading when the host writes the identity), so the clock is off by no
// more than one round trip. The host closes the port only after the last OK:
// QEMU may drop what a closed connection left unread.
func waitIdentity(port string, log io.Writer) (map[string]string, error) {
	var fd int
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; {
		fd, err = openPort(port)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("identity port %s: %w", port, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	defer syscall.Close(fd)
	fmt.Fprintln(log, "paddock-guest: waiting for identity")
	r := bufio.NewReader(portReader{fd})
	id, err := parseIdentity(r)
	if err != nil {
		return nil, err
	}
	if _, err := syscall.Write(fd, []byte("OK\n")); err != nil {
		return nil, fmt.Errorf("acknowledge identity: %w", err)
	}
	line, err := r.ReadString('\n')
	k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
	if err != nil || k != "PADDOCK_TIME_NS" {
		return nil, fmt.Errorf("identity: want PADDOCK_TIME_NS after END, got %q (%v)", line, err)
	}
	id[k] = v
	if _, err := syscall.Write(fd, []byte("OK\n")); err != nil {
		return nil, fmt.Errorf("acknowledge the time: %w", err)
	}
	return id, nil
}

// openPort opens the virtio-serial port named name. Its device node is
// named after the virtio device's index (/dev/vportNp1), which depends on
// the other devices, so the port is found by the name the host gave it.
func openPort(name string) (int, error) {
	names, _ := filepath.Glob("/sys/class/virtio-ports/*/name")
	for _, n := range names {
		if b, err := os.ReadFile(n); err == nil && strings.TrimSpace(string(b)) == name {
			return syscall.Open("/dev/"+filepath.Base(filepath.Dir(n)), syscall.O_RDWR|syscall.O_CLOEXEC, 0)
		}
	}
	return -1, os.ErrNotExist
}

// applyIdentity sets the clock and reseeds the kernel's random generator
// before anything of this job runs, then exports the boot settings for the
// bootstrap as the cold boot's init does. Every value is checked before the
// first is used.
func applyIdentity(id map[string]string, log io.Writer) error {
	ns, err := strconv.ParseInt(id["PADDOCK_TIME_NS"], 10, 64)
	if err != nil || ns <= 0 {
		return fmt.Errorf("identity: bad PADDOCK_TIME_NS %q", id["PADDOCK_TIME_NS"])
	}
	seed, err := hex.DecodeString(id["PADDOCK_ENTROPY"])
	if err != nil || len(seed) < 32 {
		return errors.New("identity: PADDOCK_ENTROPY must be at least 32 bytes in hex")
	}
	tv := syscall.NsecToTimeval(ns)
	if err := syscall.Settimeofday(&tv); err != nil {
		return fmt.Errorf("set the clock: %w", err)
	}
	if err := reseed(seed); err != nil {
		return fmt.Errorf("reseed the kernel random generator: %w", err)
	}
	// A fingerprint of fresh random output: two clones that printed the
	// same one would share their random generator (a test compares them).
	// Hashed, it says nothing about the bytes the job gets later.
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	sum := sha256.Sum256(b[:])
	fmt.Fprintf(log, "paddock-guest: restored, clock set, rng fingerprint %x\n", sum[:8])
	for _, k := range []string{"PADDOCK_INSTANCE_NAME", "PADDOCK_METADATA_URL", "PADDOCK_CALLBACK_URL", "PADDOCK_INSTANCE_TOKEN"} {
		if err := os.Setenv(k, id[k]); err != nil {
			return err
		}
	}
	return nil
}

// Linux's random ioctls (include/uapi/linux/random.h).
const (
	rndAddEntropy = 0x40085203 // _IOW('R', 0x03, int[2])
	rndReseedCRNG = 0x5207     // _IO('R', 0x07)
	randomDevice  = "/dev/urandom"
	bitsPerByte   = 8
)

// reseed mixes the host's entropy into the input pool, credits it, and makes
// the kernel derive a new generator state from the pool right away:
// crediting alone reseeds a generator that is already initialized only when
// its next reseed interval (up to a minute) is due.
func reseed(seed []byte) error {
	f, err := os.OpenFile(randomDevice, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var req bytes.Buffer
	_ = binary.Write(&req, binary.NativeEndian, [2]int32{int32(len(seed) * bitsPerByte), int32(len(seed))})
	req.Write(seed)
	buf := req.Bytes()
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), rndAddEntropy, uintptr(unsafe.Pointer(&buf[0]))); e != 0 {
		return fmt.Errorf("RNDADDENTROPY: %w", e)
	}
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), rndReseedCRNG, 0); e != 0 {
		return fmt.Errorf("RNDRESEEDCRNG: %w", e)
	}
	return nil
}
