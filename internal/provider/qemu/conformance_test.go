package qemu_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/localmachine"
	"github.com/paddock-ci/paddock/internal/provider/providertest"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// TestConformance runs the suite. Only the cases whose Create starts a VM
// need the fast image (built once, by needVM); the VMs are deleted as soon
// as each case has looked at them, long before they finish booting.
func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		dir := filepath.Join(t.TempDir(), "vms")
		var img string // "" = the fast image, once built
		newP := func(t *testing.T, cid string) provider.Provider {
			d, relay := img, []string{paddockBin, "qemu-relay"}
			if d == "" {
				d = imageDir
			}
			if d == "" { // no VM is booted: any image dir and relay do
				d, relay = t.TempDir(), []string{"/bin/false"}
			}
			p, err := qemu.New(qemu.Options{StateDir: dir, ControllerID: cid, ImageDir: d, Accel: "tcg", RelayCommand: relay})
			if err != nil {
				if noQEMU != "" {
					t.Skipf("!!! QEMU VM TEST SKIPPED: %s", noQEMU)
				}
				t.Fatal(err)
			}
			return p
		}
		return &providertest.Harness{
			New:        newP,
			NeedCreate: needVM,
			// The manager died after writing the record, before QEMU started.
			CrashMidCreate: func(t *testing.T, s provider.Spec) {
				reg, err := localmachine.Open(dir, "c1")
				if err == nil {
					err = os.MkdirAll(reg.Dir(s.Name), 0o700)
				}
				if err == nil {
					h := reg.NewHeader(s)
					h.CreatedAt = h.CreatedAt.Add(-time.Hour)
					err = reg.Write(s.Name, h)
				}
				if err != nil {
					t.Fatal(err)
				}
			},
			// The manager died right after QEMU started (the record was
			// written before, so the restarted provider finds the VM).
			CrashAfterStart: func(t *testing.T, s provider.Spec) func() bool {
				p := newP(t, "c1").(*qemu.Provider)
				var pid int
				qemu.SetAfterStart(p, func(started int) error { pid = started; return errors.New("killed") })
				if _, err := p.Create(context.Background(), s); err == nil || pid == 0 {
					t.Fatalf("create went on after the crash (%v) or QEMU did not start (pid %d)", err, pid)
				}
				tag := []byte("\x00" + filepath.Join(dir, s.Name, "qemu.pid") + "\x00")
				running := func() bool {
					b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
					return err == nil && bytes.Contains(b, tag) && !localmachine.Zombie(pid)
				}
				t.Cleanup(func() {
					if running() {
						_ = syscall.Kill(pid, syscall.SIGKILL)
					}
				})
				return running
			},
			FailCreate: func(t *testing.T) { img = t.TempDir() }, // no fast image there
			FailList: func(t *testing.T, _ provider.Provider) {
				if err := os.RemoveAll(dir); err != nil || os.WriteFile(dir, nil, 0o600) != nil {
					t.Fatal("cannot replace the state dir by a file")
				}
			},
		}
	})
}
