package demo_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/demo"
)

// Bad qemu-demo input is refused before anything starts, with what to do.
func TestQEMUDemoRefusesBadInput(t *testing.T) {
	self := filepath.Join(t.TempDir(), "paddock") // nothing beside it
	for name, c := range map[string]struct {
		o    demo.Options
		want string
	}{
		"unknown arch":        {demo.Options{Provider: "qemu", Arch: "riscv64"}, "want x64 or arm64"},
		"arm64 without qemu":  {demo.Options{Provider: "process", Arch: "arm64"}, "needs --provider qemu"},
		"gitea in a VM":       {demo.Options{Provider: "qemu", Forge: "gitea"}, "--forge github only"},
		"no guest agent":      {demo.Options{Provider: "qemu", Arch: "arm64"}, "GOARCH=arm64 go build"},
		"no guest agent, x64": {demo.Options{Provider: "qemu"}, "./cmd/paddock-guest"},
		"unknown start":       {demo.Options{Provider: "qemu", QEMUStart: "resume"}, "--start \"resume\": want boot or snapshot"},
		"snapshot, arm64":     {demo.Options{Provider: "qemu", Arch: "arm64", QEMUStart: "snapshot"}, "needs --provider qemu with x64 guests"},
		"snapshot, process":   {demo.Options{Provider: "process", QEMUStart: "snapshot"}, "needs --provider qemu with x64 guests"},
	} {
		c.o.Jobs, c.o.Self = 1, self
		if _, err := demo.Run(context.Background(), c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", name, err, c.want)
		}
	}
}
