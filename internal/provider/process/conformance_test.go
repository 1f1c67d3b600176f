package process

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/localmachine"
	"github.com/paddock-ci/paddock/internal/provider/providertest"
)

// boot calls the manager once, as the real bootstrap does, then stays up.
const boot = `curl -s -o /dev/null "$PADDOCK_METADATA_URL/runner"; exec sleep 60`

func TestConformance(t *testing.T) {
	providertest.Run(t, func(t *testing.T) *providertest.Harness {
		dir := filepath.Join(t.TempDir(), "machines")
		cmd := []string{"/bin/sh", "-c", boot}
		return &providertest.Harness{
			New: func(t *testing.T, controllerID string) provider.Provider {
				p, err := New(Options{StateDir: dir, ControllerID: controllerID, Command: cmd})
				if err != nil {
					t.Fatal(err)
				}
				return p
			},
			CallsBack: true,
			// The manager died after writing the record, before starting the
			// process. (Before the record: TestDeleteRemovesDirectoryLeftWithoutStateFile.)
			CrashMidCreate: func(t *testing.T, s provider.Spec) {
				reg, err := localmachine.Open(dir, "c1")
				if err == nil {
					err = os.MkdirAll(filepath.Join(dir, s.Name, "work"), 0o700)
				}
				if err == nil {
					err = reg.Write(s.Name, record{Header: reg.NewHeader(s)})
				}
				if err != nil {
					t.Fatal(err)
				}
			},
			// The manager died right after starting the machine's process.
			CrashAfterStart: func(t *testing.T, s provider.Spec) func() bool {
				p, err := New(Options{StateDir: dir, ControllerID: "c1", Command: cmd})
				if err != nil {
					t.Fatal(err)
				}
				var pid int
				p.afterStart = func(started int) error { pid = started; return errors.New("killed") }
				if _, err := p.Create(context.Background(), s); err == nil {
					t.Fatal("the create went on after the crash")
				}
				ticks := startTicks(pid)
				t.Cleanup(func() {
					if startTicks(pid) == ticks {
						killGroup(pid)
					}
				})
				return func() bool { return alive(pid) && startTicks(pid) == ticks }
			},
			// A machine that ignores SIGTERM makes Delete wait for its grace period.
			Slow: func(t *testing.T, p provider.Provider, s provider.Spec) {
				cmd[2] = `trap '' TERM; echo > ready; exec sleep 60`
				if _, err := p.Create(context.Background(), s); err != nil {
					t.Fatal(err)
				}
				waitFile(t, filepath.Join(dir, s.Name, "work", "ready"))
			},
			FailCreate: func(*testing.T) { cmd[0] = "/nonexistent/boot" },
			FailList: func(t *testing.T, _ provider.Provider) {
				if err := os.RemoveAll(dir); err != nil || os.WriteFile(dir, nil, 0o600) != nil {
					t.Fatal("cannot replace the state dir by a file")
				}
			},
		}
	})
}
