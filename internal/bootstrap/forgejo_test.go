package bootstrap

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/machineapi"
)

// A forgejo-runner without `one-job --wait` must fail the bootstrap with a
// message that says so, not start and exit with a bare status.
func TestOldForgejoRunnerFailsClearly(t *testing.T) {
	cfg := machineapi.RunnerConfig{Kind: kindForgejoRunner,
		JITConfig: base64.StdEncoding.EncodeToString([]byte(`{"uuid":"u","token":"t","address":"http://x"}`))}
	for _, c := range []struct {
		name, help string
		ok         bool
	}{
		{"old", "Run only one job\n\nUsage:\n  forgejo-runner one-job [flags]\n\nFlags:\n  -h, --help   help for one-job\n", false},
		{"new", "Usage:\n  forgejo-runner one-job [flags]\n\nFlags:\n  -h, --help   help\n  -w, --wait   wait for a job\n", true},
	} {
		dir := t.TempDir()
		script := "#!/bin/sh\ncat <<'EOF'\n" + c.help + "EOF\n"
		if err := os.WriteFile(filepath.Join(dir, "forgejo-runner"), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd, err := runnerCommand(context.Background(), cfg, dir)
		if c.ok {
			if err != nil || !strings.HasSuffix(strings.Join(cmd.Args, " "), "one-job --wait") {
				t.Fatalf("%s runner: %v, %v", c.name, cmd, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "too old") || !strings.Contains(err.Error(), "runner_downloads") {
			t.Fatalf("%s runner: err = %v; want a clear too-old error", c.name, err)
		}
		if _, serr := os.Stat(filepath.Join(dir, ".runner")); serr == nil {
			t.Fatalf("%s runner: credentials written for a runner that cannot use them", c.name)
		}
	}
}
