package main

import (
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/image"
)

// The guest agent goes into every microVM's initramfs and starts on every
// boot under emulation: it must not grow the manager's dependencies
// (client-go, the forge clients, SQLite …). Only the machine side of
// Paddock and the standard library are allowed in.
func TestGuestImportsOnlyTheMachineSide(t *testing.T) {
	allowed := []string{
		"github.com/paddock-ci/paddock/cmd/paddock-guest",
		"github.com/paddock-ci/paddock/internal/bootstrap",
		"github.com/paddock-ci/paddock/internal/machineapi",
		"github.com/paddock-ci/paddock/internal/scratch",
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	var extra []string
	for _, p := range strings.Fields(string(out)) {
		if !slices.Contains(allowed, p) {
			extra = append(extra, p)
		}
	}
	if len(extra) > 0 {
		t.Fatalf("paddock-guest imports more than bootstrap, machineapi, scratch and the standard library: %v", extra)
	}
}

func TestUsageAndTimingLine(t *testing.T) {
	var out, errw bytes.Buffer
	for _, args := range [][]string{nil, {"boot", "extra"}, {"scratch", "/dev/vda"}, {"nonsense"}} {
		if err := run(args, &out, &errw); err == nil || !strings.Contains(err.Error(), "usage") {
			t.Errorf("%v: err = %v, want usage", args, err)
		}
	}
	// boot without settings fails, and still prints its timing line with
	// init's stamps first.
	t.Setenv("PADDOCK_TIMING", "init=0.50 net=0.61")
	t.Setenv("PADDOCK_METADATA_URL", "")
	errw.Reset()
	if err := run([]string{"boot"}, &out, &errw); err == nil {
		t.Fatal("boot without settings succeeded")
	}
	line := errw.String()
	if !strings.HasPrefix(line, "paddock-guest: timing init=0.50 net=0.61 agent=") || strings.Count(line, "paddock-guest: timing") != 1 {
		t.Fatalf("timing line = %q", line)
	}
}

func TestRunnerCacheIsWhereTheImagePutsIt(t *testing.T) {
	if runnerCache != "/"+image.RunnerCacheDir {
		t.Fatalf("guest looks in %s, image bakes into /%s", runnerCache, image.RunnerCacheDir)
	}
}
