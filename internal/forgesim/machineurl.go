package forgesim

import "strings"

// SetMachineURL sets the URL at which runners on machines reach the sim when
// it differs from the sim's own URL, as for a VM behind NAT that sees the
// host's loopback through a forwarded address. It goes into JIT configs and
// runner download links; API answers (pagination links included) keep the
// sim's own URL, which is what the manager uses. "" restores the default.
func (s *Sim) SetMachineURL(u string) {
	if u != "" && !strings.HasSuffix(u, "/") {
		u += "/"
	}
	s.mu.Lock()
	s.machineBase = u
	s.mu.Unlock()
}

// MachineURL is the URL runners use to reach the sim (with a trailing slash).
func (s *Sim) MachineURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.machineBaseLocked()
}

func (s *Sim) machineBaseLocked() string {
	if s.machineBase != "" {
		return s.machineBase
	}
	return s.base
}
