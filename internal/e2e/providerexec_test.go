package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runProviderExec runs `paddock provider-exec KIND` the way a manager does:
// no arguments beyond the kind, a scratch environment, the command in GARM_COMMAND.
func runProviderExec(t *testing.T, kind, command, cfgFile string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binary, "provider-exec", kind)
	cmd.Env = []string{"GARM_COMMAND=" + command, "GARM_CONTROLLER_ID=ctl-e2e", "GARM_INTERFACE_VERSION=v0.1.1",
		"GARM_PROVIDER_CONFIG_FILE=" + cfgFile, "GARM_POOL_ID=pool-1", "PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Paddock's qemu provider behind GARM's protocol: configured from a provider
// file checked like paddock.yaml, listing this controller's VMs.
func TestProviderExecQEMUAndKubernetes(t *testing.T) {
	dir := t.TempDir()
	good := writeFile(t, dir, "qemu.yaml", "state_dir: state\nproviders:\n  - name: vms\n    type: qemu\n    qemu: {accel: tcg}\n")
	if out, errOut, code := runProviderExec(t, "qemu", "GetVersion", good); code != 0 || !strings.Contains(out, "provider-exec qemu") {
		t.Fatalf("GetVersion: code %d out %q err %q", code, out, errOut)
	}
	if out, errOut, code := runProviderExec(t, "qemu", "ListInstances", good); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("ListInstances on an empty state: code %d out %q err %q", code, out, errOut)
	}

	bad := writeFile(t, dir, "bad.yaml", "state_dir: state\nserver: {listen: x}\nproviders:\n  - name: vms\n    type: qemu\n    qemu: {accel: warp}\n")
	_, errOut, code := runProviderExec(t, "qemu", "ListInstances", bad)
	if code == 0 || !strings.Contains(errOut, "bad.yaml:2") || !strings.Contains(errOut, "accel") {
		t.Fatalf("bad provider file: code %d, stderr %q (want every problem with its line)", code, errOut)
	}
	if _, errOut, code := runProviderExec(t, "kubernetes", "ListInstances", good); code == 0 || !strings.Contains(errOut, "qemu provider") {
		t.Fatalf("kind mismatch: code %d, stderr %q", code, errOut)
	}

	// Outside a cluster and without a kubeconfig the kubernetes provider
	// cannot work: it must say so and fail, not pretend.
	k8s := writeFile(t, dir, "k8s.yaml", "state_dir: state\nproviders:\n  - name: pods\n    type: kubernetes\n")
	if _, errOut, code := runProviderExec(t, "kubernetes", "ListInstances", k8s); code == 0 || errOut == "" {
		t.Fatalf("kubernetes without a cluster: code %d, stderr %q", code, errOut)
	}
}
