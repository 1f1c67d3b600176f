package demo_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/demo"
)

// TestDemoStateDirCreated: `paddock demo --provider external --state-dir DIR`
// on a first run, when DIR (and its parent) do not exist yet, creates it and
// writes the generated provider config there (it failed with "open
// DIR/provider.json: no such file").
func TestDemoStateDirCreated(t *testing.T) {
	self := paddockBinary(t)
	ref := filepath.Join(t.TempDir(), "refprovider")
	if out, err := exec.Command("go", "build", "-o", ref, "../provider/external/testdata/refprovider").CombinedOutput(); err != nil {
		t.Fatalf("build refprovider: %v\n%s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "new", "state")
	var out, log bytes.Buffer
	sum, err := demo.Run(context.Background(), demo.Options{Jobs: 1, Self: self, Dir: dir,
		Provider: "external", ProviderExec: ref,
		JobDuration: 100 * time.Millisecond, Timeout: 2 * time.Minute, Out: &out, Log: &log})
	if err != nil {
		t.Fatalf("demo --state-dir %s: %v\n%s\nmanager log:\n%s", dir, err, out.String(), log.String())
	}
	if !sum.OK() || sum.Completed != 1 {
		t.Fatalf("summary %+v", sum)
	}
	if _, err := os.Stat(filepath.Join(dir, "provider.json")); err != nil {
		t.Fatalf("generated provider config not kept in the state dir: %v", err)
	}
}

// TestDemoStateDirUnwritable: a --state-dir that cannot be created fails at
// once with an error naming the flag, before anything starts.
func TestDemoStateDirUnwritable(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := demo.Run(context.Background(), demo.Options{Jobs: 1, Self: "/bin/true", Dir: filepath.Join(file, "sub")})
	if err == nil || !strings.Contains(err.Error(), "--state-dir") {
		t.Fatalf("err = %v, want one naming --state-dir", err)
	}
}
