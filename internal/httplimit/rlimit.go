package httplimit

import "syscall"

// RaiseFileLimit raises this process's soft limit on open files to its hard
// limit, and returns the resulting soft limit.
func RaiseFileLimit() (uint64, error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, err
	}
	if r.Cur < r.Max {
		want := r
		want.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return r.Cur, err
		}
		r = want
	}
	return r.Cur, nil
}

// ConnectionCap is the most inbound connections to allow under a file limit
// of nofile: the configured number, but always leaving a quarter of the
// descriptors (at least 256) to the manager's own outbound calls and files.
func ConnectionCap(configured int, nofile uint64) int {
	reserve := max(256, nofile/4)
	if nofile <= reserve+16 {
		return 16
	}
	return int(min(uint64(configured), nofile-reserve))
}
