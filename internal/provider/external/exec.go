package external

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Output limits: a provider that floods stdout or stderr must not exhaust
// the manager's memory. stdout is the answer (a List may be long); stderr is
// only diagnostics, of which the end matters most.
const (
	maxStdout   = 16 << 20
	maxStderr   = 64 << 10
	faultStderr = 1500 // bytes of stderr quoted in an error (instance faults hold 2000)
)

// ExecError is a failed call of the provider executable.
type ExecError struct {
	Command  string
	ExitCode int // -1: did not run to an exit (start failure, timeout, signal)
	Stderr   string
	Cause    error
}

func (e *ExecError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "provider executable %s: %v", e.Command, e.Cause)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		if len(s) > faultStderr {
			s = "…" + s[len(s)-faultStderr:]
		}
		fmt.Fprintf(&b, "; stderr: %s", s)
	}
	return b.String()
}

func (e *ExecError) Unwrap() error { return e.Cause }

// ErrTimeout: the executable ran past the per-call timeout and was killed.
var ErrTimeout = errors.New("timed out")

// limited keeps at most max bytes; for stderr it keeps the tail, where the
// error usually is.
type limited struct {
	buf       bytes.Buffer
	max       int
	tail      bool
	truncated bool
}

func (l *limited) Write(p []byte) (int, error) {
	n := len(p)
	if l.tail {
		l.buf.Write(p)
		if over := l.buf.Len() - l.max; over > 0 {
			l.truncated = true
			rest := append([]byte(nil), l.buf.Bytes()[over:]...)
			l.buf.Reset()
			l.buf.Write(rest)
		}
		return n, nil
	}
	if room := l.max - l.buf.Len(); room < len(p) {
		l.truncated = true
		p = p[:max(room, 0)]
	}
	l.buf.Write(p)
	return n, nil
}

// run executes the provider once: no arguments, env exactly as given, stdin
// only when non-nil. The executable runs in its own process group so a
// timeout kills everything it started (a hung cloud CLI included), not just
// the direct child.
func (p *Provider) run(ctx context.Context, command string, env []string, stdin []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, p.opts.Executable)
	cmd.Env = env
	cmd.Dir = p.opts.WorkDir
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	stdout := &limited{max: maxStdout}
	stderr := &limited{max: maxStderr, tail: true}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A machine the provider started in the background may hold our pipes
	// open; do not wait for it once the provider itself has exited.
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		// The group may outlive a direct child that exited on its own.
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return nil, &ExecError{Command: command, ExitCode: -1, Stderr: stderr.buf.String(),
			Cause: fmt.Errorf("%w after %s (process group killed)", ErrTimeout, p.opts.Timeout)}
	}
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return stdout.buf.Bytes(), &ExecError{Command: command, ExitCode: code, Stderr: stderr.buf.String(), Cause: err}
	}
	if stdout.truncated {
		return nil, &ExecError{Command: command, ExitCode: 0, Stderr: stderr.buf.String(),
			Cause: fmt.Errorf("answer longer than %d bytes", maxStdout)}
	}
	return stdout.buf.Bytes(), nil
}

func exitCode(err error) int {
	var ee *ExecError
	if errors.As(err, &ee) {
		return ee.ExitCode
	}
	return -1
}
