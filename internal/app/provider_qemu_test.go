package app

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/config"
)

// The qemu block's firmware paths reach the provider, which checks a path
// set there when the manager starts.
func TestQEMUProviderFirmwareFromConfig(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed: the qemu provider cannot start (Debian package qemu-system-x86)")
	}
	missing := filepath.Join(t.TempDir(), "AAVMF_CODE.fd")
	pc := config.ProviderConfig{Name: "vms", Type: "qemu", QEMU: &config.QEMUConfig{FirmwareArm64: missing}}
	env := ProviderEnv{Config: &config.Config{StateDir: t.TempDir()}, ControllerID: "ctl", Self: "/bin/true"}
	_, err := newQEMUProvider(pc, env)
	if err == nil || !strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "qemu-efi-aarch64") {
		t.Fatalf("a missing firmware_arm64 at start: %v", err)
	}
	pc.QEMU.FirmwareArm64 = ""
	if _, err := newQEMUProvider(pc, env); err != nil {
		t.Fatalf("without firmware settings the provider must start (x64 hosts need no firmware): %v", err)
	}
}
