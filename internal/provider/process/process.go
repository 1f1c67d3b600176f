// Package process is the "process" provider: each machine is a local process
// (the runner bootstrap) in a fresh working directory.
//
// NO ISOLATION: jobs share the host's kernel, network, ports and users. It
// exists for demos and development only; production pools use a VM provider.
//
// Machines outlive the manager (each runs in its own session), so a manager
// killed with SIGKILL and restarted finds them again from their state files and
// either adopts or destroys them.
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

// Create starts the machine unless one with that name already exists.
func (p *Provider) Create(ctx context.Context, spec provider.Spec) (provider.Machine, error) {
	if err := localmachine.ValidName(spec.Name); err != nil {
		return provider.Machine{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if rec, err := p.Read(spec.Name); err == nil {
		return p.machine(rec), nil
	}
	dir := p.dir(spec.Name)
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return provider.Machine{}, err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "machine.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return provider.Machine{}, err
	}
	defer logf.Close()
	cmd := exec.Command(p.opts.Command[0], p.opts.Command[1:]...)
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
		os.RemoveAll(dir)
		return provider.Machine{}, fmt.Errorf("start machine %s: %w", spec.Name, err)
	}
	// Reap the child when it ends so it does not linger as a zombie.
	go cmd.Wait() //nolint:errcheck
	rec := record{Header: p.reg.NewHeader(spec), PID: cmd.Process.Pid, StartTicks: startTicks(cmd.Process.Pid)}
	if err := p.reg.Write(spec.Name, rec); err != nil {
		killGroup(rec.PID)
		os.RemoveAll(dir)
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
	rec, err := p.Read(name)
	if errors.Is(err, provider.ErrNotFound) {
		// No state file at all: a create or delete cut short by a crash left
		// the directory. The name is the caller's own instance, so it goes;
		// a directory holding another controller's state file stays.
		if _, serr := os.Lstat(filepath.Join(p.dir(name), "machine.json")); errors.Is(serr, os.ErrNotExist) {
			return os.RemoveAll(p.dir(name))
		}
		return nil
	}
	if err == nil && p.alive(rec) {
		if err := terminate(ctx, rec.PID); err != nil {
			return fmt.Errorf("stop machine %s: %w", name, err)
		}
	}
	return p.reg.Remove(name)
}

func (p *Provider) machine(rec record) provider.Machine {
	m := provider.Machine{ProviderID: "pid-" + strconv.Itoa(rec.PID), Name: rec.Name, PoolID: rec.PoolID, Status: provider.StatusRunning}
	if !p.alive(rec) {
		// The bootstrap (and with it the runner) has exited: the machine is spent.
		m.Status = provider.StatusStopped
	}
	return m
}

func (p *Provider) alive(rec record) bool {
	if rec.PID <= 0 || syscall.Kill(rec.PID, 0) != nil {
		return false
	}
	t := startTicks(rec.PID)
	return t != 0 && t == rec.StartTicks && !localmachine.Zombie(rec.PID)
}
