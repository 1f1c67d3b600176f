package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// pidFile is where a machine's process reports itself: "PID STARTTICKS\n".
const pidFile = "machine.pid"

// launch runs, as the machine's process, before the bootstrap: it writes the
// pidfile ($0) itself, refusing to overwrite one (set -C), then execs the
// bootstrap in the same process. So Create can record its intent before the
// process exists, and a manager killed at any point after leaves a process
// that either reported itself (PID and start time, which survive exec and
// prove identity across PID reuse) or never runs the bootstrap: Delete claims
// the pidfile first (see claim), making the report, and so the exec, fail.
const launch = `set -C
read -r s < /proc/$$/stat || exit 97
report() { shift 19; echo "$$ $1"; }
report ${s##*)} > "$0" || exit 97
exec "$@"`

// claimed is what Delete writes into an unwritten pidfile.
const claimed = "claimed\n"

// pidState is what a pidfile says.
type pidState int

const (
	pidMissing pidState = iota // not written (yet)
	pidPartial                 // being written
	pidClaimed                 // Delete got there first: no process will run
	pidReported
)

func readPIDFile(path string) (pidState, int, uint64) {
	b, err := os.ReadFile(path)
	if err != nil {
		return pidMissing, 0, 0
	}
	s := string(b)
	if s == claimed {
		return pidClaimed, 0, 0
	}
	if !strings.HasSuffix(s, "\n") {
		return pidPartial, 0, 0
	}
	f := strings.Fields(s)
	if len(f) != 2 {
		return pidPartial, 0, 0
	}
	pid, err1 := strconv.Atoi(f[0])
	ticks, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 || ticks == 0 {
		return pidPartial, 0, 0
	}
	return pidReported, pid, ticks
}

// reportWait bounds how long a pidfile may stay half-written: the one line
// is a single write by a shell builtin, so one still partial after this was
// left by a process that died writing it.
const reportWait = 2 * time.Second

// waitReport waits until the pidfile at path is complete, or until done
// (the process exited) or ctx ends.
func waitReport(ctx context.Context, path string, done <-chan struct{}) (pidState, int, uint64) {
	deadline := time.Now().Add(reportWait)
	for {
		st, pid, ticks := readPIDFile(path)
		if st == pidReported || st == pidClaimed || time.Now().After(deadline) {
			return st, pid, ticks
		}
		select {
		case <-ctx.Done():
			return st, pid, ticks
		case <-done:
			done = nil // look once more: it may have reported before exiting
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// claim finds the process of a machine whose record has no PID yet (its
// Create was cut short). It claims the unwritten pidfile so that a process
// still starting can never report itself and run the bootstrap; if the
// process reported first, it returns that process.
func claim(ctx context.Context, dir string) (int, uint64, error) {
	path := filepath.Join(dir, pidFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.WriteString(claimed)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return 0, 0, err
	}
	if !errors.Is(err, os.ErrExist) {
		return 0, 0, err
	}
	st, pid, ticks := waitReport(ctx, path, nil)
	if st == pidPartial && ctx.Err() != nil {
		return 0, 0, ctx.Err()
	}
	return pid, ticks, nil
}
