package qemu

// SetAfterStart lets the conformance suite (package qemu_test) end a Create
// right after QEMU started, as a manager killed there would.
func SetAfterStart(p *Provider, f func(pid int) error) { p.afterStart = f }
