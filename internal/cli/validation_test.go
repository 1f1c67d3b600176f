package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/core"
)

// offline runs the CLI against an address where nothing listens: an error
// other than "cannot connect" proves it stopped before any request.
func offline(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	full := append([]string{"--server", "http://127.0.0.1:1", "--token", token}, args...)
	if code := run(NewRoot(), full, &out, &errb); code != 1 {
		t.Fatalf("paddock %v: exit %d, want 1", args, code)
	}
	if strings.Contains(errb.String(), "cannot connect") {
		t.Fatalf("paddock %v sent a request before checking its flags:\n%s", args, errb.String())
	}
	return errb.String()
}

// The CLI checks flags with the server's rules, lists every problem by flag,
// and sends nothing.
func TestPoolFlagsCheckedBeforeAnyRequest(t *testing.T) {
	t.Setenv("PADDOCK_URL", "")
	t.Setenv("PADDOCK_ADMIN_TOKEN", "")
	msg := offline(t, "pool", "create", "--name", "x", "--entity", "acme/app", "--provider", "local", "--labels", "a,A",
		"--runner-prefix", "../../tmp/evil", "--os-type", "plan9", "--arch", "sparc", "--max-runners", "1000000000",
		"--bootstrap-timeout", "1ns", "--max-job-runtime", "1ns")
	for _, want := range []string{"nothing was sent", "--runner-prefix:", "--os-type:", "--arch:", "--max-runners:",
		"--bootstrap-timeout:", "--max-job-runtime:", "--labels: duplicate label"} {
		if !strings.Contains(msg, want) {
			t.Errorf("create error does not mention %q:\n%s", want, msg)
		}
	}
	msg = offline(t, "pool", "update", "linux", "--runner-prefix", "UPPER", "--priority", "3")
	if !strings.Contains(msg, "--runner-prefix:") || strings.Contains(msg, "--priority") {
		t.Errorf("update error:\n%s", msg)
	}
	msg = offline(t, "entity", "create", "--forge", "github", "--name", "acme/a b")
	if !strings.Contains(msg, "--name:") {
		t.Errorf("entity error:\n%s", msg)
	}
}

// An update is checked against the pool as it is (min_idle against its
// max_runners) before the PATCH, and a pool stored invalid by an older
// version can still be disabled from the CLI.
func TestPoolUpdateCheckedAgainstCurrentPool(t *testing.T) {
	e := newEnv(t)
	e.seed() // linux: max_runners 10, min_idle 1
	e.fails([]string{"pool", "update", "linux", "--min-idle", "11"}, "--min-idle: must be ≤ max_runners (10)", "nothing was sent")
	if p, _ := e.st.GetPool(context.Background(), "linux"); p.MinIdle != 1 {
		t.Fatalf("refused update written: %+v", p)
	}
	ent, _ := e.st.GetEntity(context.Background(), "acme/app")
	old := core.Pool{Name: "old", EntityID: ent.ID, Provider: "local", Labels: []string{"a"}, MinIdle: 1e9, MaxRunners: 1e9,
		RunnerPrefix: "UPPER", OSType: "linux", Arch: "x64", BootstrapTimeout: 1, Enabled: true}
	if err := e.st.CreatePool(context.Background(), &old); err != nil {
		t.Fatal(err)
	}
	e.ok("pool", "update", "old", "--enabled=false")
	e.fails([]string{"pool", "update", "old", "--enabled=true"}, "--max-runners:", "--runner-prefix:", "--bootstrap-timeout:")
	e.ok("pool", "update", "old", "--enabled=true", "--min-idle", "0", "--max-runners", "3", "--runner-prefix", "old",
		"--bootstrap-timeout", "5m")
}
