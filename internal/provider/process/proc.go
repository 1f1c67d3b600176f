package process

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paddock-ci/paddock/internal/provider/localmachine"
)

// startTicks reads the process start time (field 22 of /proc/PID/stat), which
// together with the PID identifies a process uniquely across PID reuse.
func startTicks(pid int) uint64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may contain spaces; fields after it are fixed.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0
	}
	v, _ := strconv.ParseUint(f[19], 10, 64)
	return v
}

func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// terminate asks the machine's process group to stop, then kills it if it has
// not within a few seconds.
func terminate(ctx context.Context, pid int) error {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil || localmachine.Zombie(pid) {
			killGroup(pid) // children that ignored SIGTERM
			waitGroupGone(pid)
			return nil
		}
		select {
		case <-ctx.Done():
			killGroup(pid)
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	killGroup(pid)
	waitGroupGone(pid)
	return nil
}

// waitGroupGone waits briefly until no process of the group can be signalled,
// so Delete returns only once the machine's processes are really gone.
// Zombies awaiting their reaper still count, so it gives up after 250 ms.
func waitGroupGone(pgid int) {
	for deadline := time.Now().Add(250 * time.Millisecond); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if syscall.Kill(-pgid, 0) != nil {
			return
		}
	}
}
