// Package localmachine is the state-directory bookkeeping shared by the
// providers whose machines are processes on this host (process, qemu): one
// directory per machine holding a JSON record that names the controller and
// pool it belongs to, so a restarted manager finds its machines again and
// never touches another controller's.
package localmachine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paddock-ci/paddock/internal/check"
	"github.com/paddock-ci/paddock/internal/provider"
)

// recordFile is the record's name inside a machine's directory.
const recordFile = "machine.json"

// Header is the part of every record the registry itself reads. Providers
// embed it in their own record type, so the file keeps one flat object.
type Header struct {
	Name         string    `json:"name"`
	ControllerID string    `json:"controller_id"`
	PoolID       string    `json:"pool_id"`
	CreatedAt    time.Time `json:"created_at"`
}

// Registry is one provider's state directory.
type Registry struct {
	dir          string
	controllerID string
}

// Open checks the settings and creates the state directory.
func Open(dir, controllerID string) (*Registry, error) {
	if dir == "" || controllerID == "" {
		return nil, errors.New("state dir and controller id are required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Registry{dir: dir, controllerID: controllerID}, nil
}

// NewHeader starts a record for a machine of this controller.
func (r *Registry) NewHeader(spec provider.Spec) Header {
	return Header{Name: spec.Name, ControllerID: r.controllerID, PoolID: spec.PoolID, CreatedAt: time.Now().UTC()}
}

// ValidName refuses a name that is not an instance name (check's one rule):
// names become directory names, so this is what keeps them inside the state dir.
func ValidName(name string) error {
	if msg := check.InstanceNameProblem(name); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// Dir is the machine's directory.
func (r *Registry) Dir(name string) string { return filepath.Join(r.dir, name) }

// Read loads the record of a machine of this controller into rec; a missing
// record or another controller's is provider.ErrNotFound.
func (r *Registry) Read(name string, rec any) error {
	b, err := os.ReadFile(filepath.Join(r.Dir(name), recordFile))
	if errors.Is(err, os.ErrNotExist) {
		return provider.ErrNotFound
	}
	if err != nil {
		return err
	}
	var h Header
	if err := json.Unmarshal(b, &h); err != nil {
		return fmt.Errorf("machine %s: corrupt state file: %w", name, err)
	}
	if h.ControllerID != r.controllerID {
		return provider.ErrNotFound
	}
	if err := json.Unmarshal(b, rec); err != nil {
		return fmt.Errorf("machine %s: corrupt state file: %w", name, err)
	}
	return nil
}

// Write replaces the machine's record atomically (the directory must exist).
func (r *Registry) Write(name string, rec any) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	path := filepath.Join(r.Dir(name), recordFile)
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// Recorded reports whether the machine's directory holds a record file (of
// any controller). A directory without one is what a Create cut short before
// writing its intent leaves: no process was started for it yet.
func (r *Registry) Recorded(name string) bool {
	_, err := os.Lstat(filepath.Join(r.Dir(name), recordFile))
	return !errors.Is(err, os.ErrNotExist)
}

// Remove deletes the machine's directory. It first renames the directory to a
// name no machine can have: a process that a crashed Create started and that
// is still starting up then cannot create files (its pidfile, its sockets) at
// the paths it was given, so it fails instead of running unrecorded. settle,
// if not nil, runs on the moved directory before it is removed, to stop a
// process that got its pidfile written just before the rename.
func (r *Registry) Remove(name string, settle func(moved string) error) error {
	moved := filepath.Join(r.dir, ".removing-"+name)
	// A Remove cut short by a crash may have left one.
	if err := os.RemoveAll(moved); err != nil {
		return err
	}
	if err := os.Rename(r.Dir(name), moved); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if settle != nil {
		if err := settle(moved); err != nil {
			return err
		}
	}
	return os.RemoveAll(moved)
}

// Names lists this controller's machines, sorted. A state directory that
// cannot be read is an error, never an empty list: the controller would take
// every machine for gone.
func (r *Registry) Names() ([]string, error) {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		var h Header
		// ValidName skips the directories Remove is taking away.
		if e.IsDir() && ValidName(e.Name()) == nil && r.Read(e.Name(), &h) == nil {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Machines reports the machines whose records are of type R (a provider's
// own record, embedding Header) as Machine says. Embedded in a provider, it
// is that provider's Get and List.
type Machines[R any] struct {
	Reg     *Registry
	Machine func(R) provider.Machine
}

// Read loads the record of a machine of this controller.
func (m Machines[R]) Read(name string) (R, error) {
	var rec R
	err := m.Reg.Read(name, &rec)
	return rec, err
}

// Get returns the machine or provider.ErrNotFound.
func (m Machines[R]) Get(_ context.Context, name string) (provider.Machine, error) {
	if err := ValidName(name); err != nil {
		return provider.Machine{}, err
	}
	rec, err := m.Read(name)
	if err != nil {
		return provider.Machine{}, err
	}
	return m.Machine(rec), nil
}

// List returns every machine of this controller, sorted by name. A record
// that cannot be read (removed meanwhile) is skipped.
func (m Machines[R]) List(context.Context) ([]provider.Machine, error) {
	names, err := m.Reg.Names()
	if err != nil {
		return nil, err
	}
	var out []provider.Machine
	for _, n := range names {
		if rec, err := m.Read(n); err == nil {
			out = append(out, m.Machine(rec))
		}
	}
	return out, nil
}

// Zombie reports whether pid has exited but not been reaped (or is gone).
func Zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || len(s) < i+3 || s[i+2] == 'Z'
}
