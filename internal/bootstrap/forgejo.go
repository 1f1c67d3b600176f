package bootstrap

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"
)

// checkOneJobWait makes sure the forgejo-runner binary has `one-job --wait`.
// forgejo-runner has had `one-job` since v9 but gained --wait later; an older
// binary rejects the flag and exits at once, which would otherwise surface
// only as "runner exited: exit status 1" after the machine reported idle.
// Asking its help output first turns that into a failure report that says
// what to change.
func checkOneJobWait(ctx context.Context, bin string) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, bin, "one-job", "--help").CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("--wait")) {
		return nil
	}
	detail := "its `one-job --help` does not list --wait"
	if err != nil {
		detail = fmt.Sprintf("`one-job --help` failed: %v", err)
	}
	return fmt.Errorf("forgejo-runner is too old for Paddock (%s): Paddock runs `forgejo-runner one-job --wait`; "+
		"point the forge's runner_downloads at a forgejo-runner release that has it (see docs/forges.md)", detail)
}
