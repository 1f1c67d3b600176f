// Package process is the "process" provider: each machine is a local process
// (the runner bootstrap) in a fresh working directory.
//
// NO ISOLATION: jobs share the host's kernel, network, ports and users. It
// exists for demos and development only; production pools use a VM provider.
//
// Machines outlive the manager (each runs in its own session), so a manager
// killed with SIGKILL and restarted finds them again from their state files and
// either adopts or destroys them. The state file is written before the
// process starts, and the process reports its PID itself (see launch), so a
// manager killed at any point leaves nothing a restarted one cannot find.
package process

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/localmachine"
)

// Options configure the provider.
type Options struct {
	// StateDir holds one directory per machine: state file, log and work dir.
	StateDir string
	// ControllerID tags machines so two managers sharing a host never touch each other's.
	ControllerID string
	// Command starts a machine's bootstrap; the machine's settings arrive in its environment.
	Command []string
	// Env is added to every machine's environment (PATH and HOME are inherited).
	Env []string
}

// Provider runs machines as local processes.
type Provider struct {
	localmachine.Machines[record] // Get and List
	opts                          Options
	reg                           *localmachine.Registry
	mu                            sync.Mutex // serializes Create/Delete of the same name
	// afterStart, set by tests, runs once the machine's process has started;
	// an error ends Create there, as a manager killed at that point would.
	afterStart func(pid int) error
}

// New checks the options and creates the state directory.
func New(opts Options) (*Provider, error) {
	if opts.StateDir == "" || opts.ControllerID == "" || len(opts.Command) == 0 {
		return nil, errors.New("process provider: state dir, controller id and command are required")
	}
	reg, err := localmachine.Open(opts.StateDir, opts.ControllerID)
	if err != nil {
		return nil, fmt.Errorf("process provider: %w", err)
	}
	p := &Provider{opts: opts, reg: reg}
	p.Machines = localmachine.Machines[record]{Reg: reg, Machine: p.machine}
	return p, nil
}

// record is what a machine's directory remembers about it.
type record struct {
	localmachine.Header
	PID        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"` // from /proc/PID/stat: guards against PID reuse
}

func (p *Provider) dir(name string) string { return p.reg.Dir(name) }

// Create starts the machine unless one with that name already exists. Its
// record is written first, without a PID (intent before the side effect);
// the process reports its PID in the pidfile (see launch), and Create then
// completes the record.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	if err := localmachine.ValidName(spec.Name); err != nil {
		return provider.Machine{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if rec, err := p.Read(spec.Name); err == nil {
		if rec.PID != 0 {
			return p.machine(rec), nil
		}
		// An earlier Create was cut short: adopt its process if it reported
		// itself, else claim the slot (no process will run) and start anew.
		if rec.PID, rec.StartTicks, err = claim(ctx, p.dir(spec.Name)); err != nil {
			return provider.Machine{}, fmt.Errorf("machine %s: %w", spec.Name, err)
		}
		if rec.PID != 0 {
			_ = p.reg.Write(spec.Name, rec) // best effort: the pidfile stays the truth
			return p.machine(rec), nil
		}
		if err := p.reg.Remove(spec.Name, nil); err != nil {
			return provider.Machine{}, err
		}
	}
	bin, err := exec.LookPath(p.opts.Command[0])
	if err != nil {
		return provider.Machine{}, fmt.Errorf("start machine %s: %w (check the process provider's command)", spec.Name, err)
	}
	dir := p.dir(spec.Name)
	if !p.reg.Recorded(spec.Name) {
		// Left by a Create cut short before its record: nothing runs there.
		if err := p.reg.Remove(spec.Name, nil); err != nil {
			return provider.Machine{}, err
		}
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return provider.Machine{}, err
	}
	rec := record{Header: p.reg.NewHeader(spec)}
	if err := p.reg.Write(spec.Name, rec); err != nil {
		_ = p.reg.Remove(spec.Name, nil)
		return provider.Machine{}, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "machine.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		_ = p.reg.Remove(spec.Name, nil)
		return provider.Machine{}, err
	}
	defer logf.Close()
	pidPath := filepath.Join(dir, pidFile)
	cmd := exec.Command("/bin/sh", append([]string{"-c", launch, pidPath, bin}, p.opts.Command[1:]...)...)
	cmd.Dir = work
	cmd.Stdout, cmd.Stderr = logf, logf
	// A fresh session: the machine survives a manager crash, and Delete can kill
	// the whole process group (runner and job children included).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = append(machineEnv(), p.opts.Env...)
	cmd.Env = append(cmd.Env,
		"PADDOCK_INSTANCE_NAME="+spec.Name,
		"PADDOCK_METADATA_URL="+spec.MetadataURL,
		"PADDOCK_CALLBACK_URL="+spec.CallbackURL,
		"PADDOCK_INSTANCE_TOKEN="+spec.Token,
		"HOME="+work,
	)
	if err := cmd.Start(); err != nil {
		_ = p.reg.Remove(spec.Name, nil)
		return provider.Machine{}, fmt.Errorf("start machine %s: %w", spec.Name, err)
	}
	// Reap the child when it ends so it does not linger as a zombie.
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	if p.afterStart != nil {
		if err := p.afterStart(cmd.Process.Pid); err != nil {
			return provider.Machine{}, err
		}
	}
	st, pid, ticks := waitReport(ctx, pidPath, done)
	if st != pidReported {
		_ = p.delete(context.WithoutCancel(ctx), spec.Name)
		return provider.Machine{}, fmt.Errorf("start machine %s: the process never reported itself (see %s)", spec.Name, filepath.Join(dir, "machine.log"))
	}
	rec.PID, rec.StartTicks = pid, ticks
	if err := p.reg.Write(spec.Name, rec); err != nil {
		_ = p.delete(context.WithoutCancel(ctx), spec.Name)
		return provider.Machine{}, err
	}
	return p.machine(rec), nil
}

// machineEnv passes through only what a process needs to run programs; the
// manager's own environment (which may hold secrets) is not inherited.
func machineEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// Delete kills the machine's process group and removes its directory.
func (p *Provider) Delete(ctx context.Context, name string) error {
	if err := localmachine.ValidName(name); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.delete(ctx, name)
}

func (p *Provider) delete(ctx context.Context, name string) error {
	rec, err := p.Read(name)
	if errors.Is(err, provider.ErrNotFound) {
		// No state file at all: a create cut short before its record (no
		// process was started) or a delete cut short (the process was
		// stopped) left the directory. The name is the caller's own
		// instance, so it goes; a directory holding another controller's
		// state file stays.
		if !p.reg.Recorded(name) {
			return p.reg.Remove(name, nil)
		}
		return nil
	}
	if err == nil && rec.PID == 0 {
		// Create was cut short: the process may have reported itself, or
		// may still be starting, which the claim stops.
		if rec.PID, rec.StartTicks, err = claim(ctx, p.dir(name)); err != nil {
			return fmt.Errorf("stop machine %s: %w", name, err)
		}
	}
	if err == nil && p.alive(rec) {
		if err := terminate(ctx, rec.PID); err != nil {
			return fmt.Errorf("stop machine %s: %w", name, err)
		}
	}
	return p.reg.Remove(name, nil)
}

func (p *Provider) machine(rec record) provider.Machine {
	if rec.PID == 0 {
		st, pid, ticks := readPIDFile(filepath.Join(p.dir(rec.Name), pidFile))
		if st == pidMissing || st == pidPartial {
			// Create was cut short before the process reported itself: it
			// may still be starting, or never started. Delete claims it.
			m := provider.Machine{ProviderID: "pid-0", Name: rec.Name, PoolID: rec.PoolID, Status: provider.StatusRunning}
			if time.Since(rec.CreatedAt) > startGrace {
				m.Status = provider.StatusStopped
			}
			return m
		}
		rec.PID, rec.StartTicks = pid, ticks
	}
	m := provider.Machine{ProviderID: "pid-" + strconv.Itoa(rec.PID), Name: rec.Name, PoolID: rec.PoolID, Status: provider.StatusRunning}
	if !p.alive(rec) {
		// The bootstrap (and with it the runner) has exited: the machine is spent.
		m.Status = provider.StatusStopped
	}
	return m
}

// startGrace bounds how long a machine whose process has not reported itself
// counts as starting rather than stopped.
const startGrace = 30 * time.Second

func (p *Provider) alive(rec record) bool {
	if rec.PID <= 0 || syscall.Kill(rec.PID, 0) != nil {
		return false
	}
	t := startTicks(rec.PID)
	return t != 0 && t == rec.StartTicks && !localmachine.Zombie(rec.PID)
}
