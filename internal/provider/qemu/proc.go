package qemu

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paddock-ci/paddock/internal/provider/localmachine"
)

// vmPID returns the PID of the QEMU process of the instance in dir, or 0 when
// none runs. The pidfile alone could name a reused PID, so the process must
// also be QEMU started with this very pidfile path.
func vmPID(dir string) int {
	return pidOf(filepath.Join(dir, "qemu.pid"), filepath.Join(dir, "qemu.pid"))
}

// pidOf reads the pidfile at path and returns its PID if that process is a
// QEMU started with -pidfile named (the path it was given, which Delete's
// rename may since have moved to path), or 0.
func pidOf(path, named string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || !qemuAlive(pid, named) {
		return 0
	}
	return pid
}

// qemuAlive reports whether pid is (still) the QEMU started with -pidfile
// named. QEMU removes its pidfile while it shuts down, before it exits, so a
// stop waits on the process itself, not on the file.
func qemuAlive(pid int, named string) bool {
	if pid <= 0 {
		return false
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !bytes.Contains(cmdline, []byte("\x00"+named+"\x00")) {
		return false
	}
	return !localmachine.Zombie(pid)
}

// qmpQuit asks QEMU to quit over its QMP socket. The socket is opened
// through /proc/self/fd so a state dir deeper than sun_path's 108 bytes works.
func qmpQuit(ctx context.Context, dir string) error {
	fd, err := syscall.Open(filepath.Join(dir, "qmp.sock"), oPath|syscall.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", "/proc/self/fd/"+strconv.Itoa(fd))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadBytes('\n'); err != nil { // greeting
		return fmt.Errorf("qmp greeting: %w", err)
	}
	for _, cmd := range []string{"qmp_capabilities", "quit"} {
		b, _ := json.Marshal(map[string]string{"execute": cmd})
		if _, err := conn.Write(append(b, '\n')); err != nil {
			return err
		}
		if _, err := r.ReadBytes('\n'); err != nil && cmd != "quit" {
			return fmt.Errorf("qmp %s: %w", cmd, err)
		}
	}
	return nil
}

// stop ends the instance's QEMU: QMP quit first (a clean exit), SIGKILL if it
// is still there after a grace period.
func stop(ctx context.Context, dir string) error {
	pid := vmPID(dir)
	if pid == 0 {
		return nil
	}
	named := filepath.Join(dir, "qemu.pid")
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err := qmpQuit(qctx, dir)
	cancel()
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		if !qemuAlive(pid, named) {
			return nil
		}
		select {
		case <-ctx.Done():
			_ = syscall.Kill(pid, syscall.SIGKILL)
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && qemuAlive(pid, named); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if qemuAlive(pid, named) {
		return fmt.Errorf("qemu pid %d survived SIGKILL", pid)
	}
	return nil
}

// oPath is Linux's O_PATH, which package syscall does not define: it opens
// the socket file itself without connecting, just to name it by fd.
const oPath = 0x200000

// killMoved kills the QEMU of an instance whose directory Delete has just
// moved away (see localmachine.Registry.Remove): one that wrote its pidfile
// between stop's look and the move. One still starting finds its paths gone
// and exits by itself.
func killMoved(moved, dir string) error {
	pid := pidOf(filepath.Join(moved, "qemu.pid"), filepath.Join(dir, "qemu.pid"))
	if pid == 0 {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && pidOf(filepath.Join(moved, "qemu.pid"), filepath.Join(dir, "qemu.pid")) != 0; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if pidOf(filepath.Join(moved, "qemu.pid"), filepath.Join(dir, "qemu.pid")) != 0 {
		return fmt.Errorf("qemu pid %d survived SIGKILL", pid)
	}
	return nil
}
