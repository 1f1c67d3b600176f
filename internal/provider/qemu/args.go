package qemu

import (
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// GuestHostAddr is the address at which a guest reaches the host endpoints
// the provider forwards (Paddock's metadata/callback endpoint and the
// Options.Forward list). It lies inside QEMU's user-mode network 10.0.2.0/24,
// as guestfwd requires; nothing else on the host is reachable (restrict=on).
const GuestHostAddr = "10.0.2.100"

// GuestURL rewrites a URL on a host endpoint to the address a guest uses for
// it. Only the host part changes; the port stays, so one forward rule per
// host port suffices.
func GuestURL(hostURL string) (string, error) {
	u, err := url.Parse(hostURL)
	if err != nil {
		return "", err
	}
	if u.Scheme != "http" {
		// A rewritten https URL would fail certificate checks in the guest.
		return "", fmt.Errorf("guests reach the host over plain http through a forward; %q is not http", hostURL)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	u.Host = net.JoinHostPort(GuestHostAddr, port)
	return u.String(), nil
}

// hostEndpoint returns host:port of an http URL.
func hostEndpoint(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	if u.Hostname() == "" {
		return "", fmt.Errorf("URL %q has no host", rawURL)
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// forwards maps guest port to host endpoint, refusing two endpoints on one port.
func forwards(endpoints []string) (map[int]string, error) {
	out := map[int]string{}
	for _, ep := range endpoints {
		_, p, err := net.SplitHostPort(ep)
		if err != nil {
			return nil, fmt.Errorf("forward %q: want host:port", ep)
		}
		port, err := strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			return nil, fmt.Errorf("forward %q: bad port", ep)
		}
		if prev, ok := out[port]; ok && prev != ep {
			return nil, fmt.Errorf("forwards %q and %q use the same port; guests see both at %s:%d", prev, ep, GuestHostAddr, port)
		}
		out[port] = ep
	}
	return out, nil
}

// optEscape doubles commas, QEMU's escape inside option values.
func optEscape(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// shellWord quotes one argument for the GLib shell parser QEMU uses on
// guestfwd commands.
func shellWord(w string) string {
	if w != "" && !strings.ContainsAny(w, " \t\n'\"\\$`;&|<>(){}*?[]#~") {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// netdev is the user-mode network: NAT only, no hostfwd (nothing listens on
// the host for the guest), restrict=on so the guest cannot reach the host or
// the outside except through the guestfwd rules, each of which runs the relay
// command (one process per guest connection) to one host endpoint.
func netdev(relay []string, fwd map[int]string) string {
	var b strings.Builder
	b.WriteString("user,id=n0,restrict=on")
	ports := make([]int, 0, len(fwd))
	for port := range fwd {
		ports = append(ports, port)
	}
	sort.Ints(ports)
	for _, port := range ports {
		ep := fwd[port]
		words := make([]string, 0, len(relay)+1)
		for _, w := range relay {
			words = append(words, shellWord(w))
		}
		words = append(words, shellWord(ep))
		fmt.Fprintf(&b, ",guestfwd=tcp:%s:%d-cmd:%s", GuestHostAddr, port, optEscape(strings.Join(words, " ")))
	}
	return b.String()
}

// vmArgs are QEMU's arguments for one instance; dir is its state directory
// (QEMU runs there, so the QMP socket path stays short).
func vmArgs(v vmConfig) []string {
	args := baseArgs(v)
	if v.scratch {
		args = append(args, "-drive", "if=none,id=scratch,format=raw,cache=unsafe,file="+optEscape(v.dir+"/scratch.img"),
			"-device", "virtio-blk-pci,drive=scratch,serial="+scratchSerial)
	}
	return args
}

func baseArgs(v vmConfig) []string {
	accel := "tcg"
	if v.accel == "kvm" {
		accel = "kvm"
	}
	args := []string{
		"-name", "paddock-" + v.name,
		"-nodefaults", "-no-user-config", "-display", "none",
	}
	args = append(args, machineArgs(v.arch, accel)...)
	args = append(args,
		"-m", strconv.Itoa(v.memoryMB), "-smp", strconv.Itoa(v.cpus),
		"-no-reboot",
		"-chardev", "file,id=con,path="+optEscape(v.dir+"/console.log"), "-serial", "chardev:con",
		"-netdev", netdev(v.relay, v.fwd), "-device", "virtio-net-pci,netdev=n0",
	)
	if v.cloud {
		args = append(args, cloudBootArgs(v)...)
	} else if v.snapshot {
		args = append(args, "-kernel", v.kernel, "-initrd", v.initrd,
			"-append", kernelCmdline(v.arch)+" paddock.snapshot init_on_free=1")
		args = append(args, snapshotDevices()...)
	} else {
		args = append(args, "-kernel", v.kernel, "-initrd", v.initrd,
			"-append", kernelCmdline(v.arch),
			"-fw_cfg", "name=opt/paddock/boot,file="+optEscape(v.dir+"/boot.cfg"))
	}
	return append(args,
		"-qmp", "unix:qmp.sock,server=on,wait=off",
		"-pidfile", v.dir+"/qemu.pid",
		"-daemonize",
	)
}

type vmConfig struct {
	name, dir, accel string
	arch             string // amd64 or arm64 ("" = amd64)
	kernel, initrd   string
	cpus, memoryMB   int
	relay            []string
	fwd              map[int]string
	scratch          bool
	// cloud boots the instance's overlay and seed (a cloud image) instead
	// of the fast image's kernel and initramfs.
	cloud bool
	// firmware is the UEFI code an arm64 cloud image boots through.
	firmware string
	// snapshot is a template or a VM restored from one: no boot settings
	// file, an identity port instead (see snapshotDevices).
	snapshot bool
}

// snapshotDevices are what a template and its clones have beyond a cold
// boot's devices: the virtio-serial port the identity arrives on, backed by
// a unix socket in the instance's own directory (only the manager's user can
// reach it; the path is relative because QEMU starts there, keeping it short),
// and a VM generation ID device. guid=auto gives every QEMU a new generation
// ID; a restored guest sees it change, and Linux's vmgenid driver reseeds the
// kernel's random generator right away, before the agent does it again
// with the host's entropy.
func snapshotDevices() []string {
	return []string{
		"-device", "virtio-serial-pci,id=vser0",
		"-chardev", "socket,id=ident,path=" + identitySocket + ",server=on,wait=off",
		"-device", "virtserialport,bus=vser0.0,nr=1,chardev=ident,name=org.paddock.identity",
		"-device", "vmgenid,guid=auto",
	}
}
