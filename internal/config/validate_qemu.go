package config

import "net"

func init() { providerBlocks["qemu"] = (*validator).qemu }

// qemu checks a qemu provider's settings.
func (v *validator) qemu(path string, pr ProviderConfig) {
	q := pr.QEMU
	if q == nil {
		return
	}
	path += ".qemu"
	if pr.Type != "qemu" {
		v.p.at(path, "only valid for type qemu")
		return
	}
	switch q.Accel {
	case "", "auto", "kvm", "tcg":
	default:
		v.p.at(path+".accel", "%q: want auto, kvm or tcg", q.Accel)
	}
	switch q.Start {
	case "", "boot", "snapshot":
	default:
		v.p.at(path+".start", "%q: want boot or snapshot", q.Start)
	}
	switch q.Workspace {
	case "", "scratch", "tmpfs":
	default:
		v.p.at(path+".workspace", "%q: want scratch or tmpfs", q.Workspace)
	}
	for name, n := range map[string]int{"cpu": q.CPU, "memory_mb": q.MemoryMB, "max_cpu": q.MaxCPU, "max_memory_mb": q.MaxMemoryMB, "scratch_gb": q.ScratchGB} {
		if n < 0 {
			v.p.at(path+"."+name, "must not be negative")
		}
	}
	if q.MemoryMB > 0 && q.MemoryMB < 256 {
		v.p.at(path+".memory_mb", "%d MB is too little to boot the fast image (at least 256)", q.MemoryMB)
	}
	for _, f := range q.Forward {
		if _, _, err := net.SplitHostPort(f); err != nil {
			v.p.at(path+".forward", "%q: want host:port", f)
		}
	}
}
