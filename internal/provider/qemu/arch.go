package qemu

import (
	"fmt"
	"runtime"
	"strings"
)

// guestArch maps a pool's arch (x64 or arm64, as forges name them; "" is
// x64) to the fast image's (Go's and Debian's names).
func guestArch(poolArch string) (string, error) {
	switch poolArch {
	case "", "x64":
		return "amd64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("qemu provider: arch %q: the qemu provider boots x64 and arm64 guests", poolArch)
}

// nativeArch says whether guests of arch run on this host's CPU, which KVM
// needs; any other guest runs under TCG.
func nativeArch(arch string) bool { return arch == runtime.GOARCH }

// machineArgs are the machine, CPU and accelerator for a guest.
//   - amd64: the pc machine, whose firmware boots the PVH vmlinux directly.
//   - arm64: the virt machine; under TCG the "max" CPU with the cheap
//     pointer-authentication algorithm (QEMU's own, far faster to emulate
//     than the architected one, and the guest cannot tell).
func machineArgs(arch, accel string) []string {
	if arch == "arm64" {
		cpu := "max,pauth-impdef=on"
		if accel == "kvm" {
			cpu = "host"
		}
		return []string{"-machine", "virt,accel=" + accel, "-cpu", cpu}
	}
	cpu := "qemu64"
	if accel == "kvm" {
		cpu = "host"
	}
	return []string{"-machine", "pc,accel=" + accel, "-cpu", cpu}
}

// kernelCmdline is the fast image's kernel command line. Beyond the console,
// it skips work a single-use VM does not need and that is slow under
// emulation: the crypto self-tests, audit and AppArmor (the VM runs one
// job as root), and on x86 the PS/2 controller probes, the extra serial
// ports and the IO-APIC timer check. The TSC keeps its clocksource
// watchdog (no tsc=reliable): under emulation on a busy host its
// calibration can be off, and the guest's clock (which the boot timings
// are read from, and jobs rely on) must not drift.
func kernelCmdline(arch string) string {
	common := []string{"quiet", "panic=-1", "cryptomgr.notests", "audit=0", "apparmor=0"}
	if arch == "arm64" {
		return strings.Join(append([]string{"console=ttyAMA0"}, common...), " ")
	}
	return strings.Join(append(append([]string{"console=ttyS0"}, common...),
		"no_timer_check", "i8042.noaux", "i8042.nokbd", "i8042.nopnp", "8250.nr_uarts=1"), " ")
}
