package qemu

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/image"
	"github.com/paddock-ci/paddock/internal/provider"
)

func TestGuestURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/api/v1/metadata": "http://10.0.2.100:8080/api/v1/metadata",
		"http://localhost/x?y=1":                "http://10.0.2.100:80/x?y=1",
	} {
		if got, err := GuestURL(in); err != nil || got != want {
			t.Errorf("GuestURL(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := GuestURL("https://paddock.example.com/api"); err == nil {
		t.Error("an https URL was rewritten (its certificate would not match in the guest)")
	}
}

func TestForwardsRefuseSharedPorts(t *testing.T) {
	f, err := forwards([]string{"127.0.0.1:9000", "127.0.0.1:9000", "127.0.0.1:9001"})
	if err != nil || len(f) != 2 {
		t.Fatalf("forwards = %v, %v", f, err)
	}
	for _, bad := range [][]string{{"127.0.0.1:9000", "127.0.0.2:9000"}, {"nohost"}, {"127.0.0.1:0"}, {"h:x"}} {
		if _, err := forwards(bad); err == nil {
			t.Errorf("forwards(%v) accepted", bad)
		}
	}
}

func TestNetdevIsRestrictedAndEscaped(t *testing.T) {
	got := netdev([]string{"/opt/pad dock,x/paddock", "qemu-relay"}, map[int]string{9001: "127.0.0.1:9001", 80: "127.0.0.1:80"})
	want := "user,id=n0,restrict=on" +
		",guestfwd=tcp:10.0.2.100:80-cmd:'/opt/pad dock,,x/paddock' qemu-relay 127.0.0.1:80" +
		",guestfwd=tcp:10.0.2.100:9001-cmd:'/opt/pad dock,,x/paddock' qemu-relay 127.0.0.1:9001"
	if got != want {
		t.Fatalf("netdev =\n%s\nwant\n%s", got, want)
	}
	if strings.Contains(got, "hostfwd") {
		t.Fatal("a host port is opened for the guest")
	}
}

func TestVMArgs(t *testing.T) {
	args := strings.Join(vmArgs(vmConfig{name: "m1", dir: "/s/m1", accel: "tcg", kernel: "/k", initrd: "/i", cpus: 2, memoryMB: 768,
		relay: []string{"/p", "qemu-relay"}, fwd: map[int]string{1: "127.0.0.1:1"}}), " ")
	for _, want := range []string{"-machine pc,accel=tcg", "-m 768", "-smp 2", "-pidfile /s/m1/qemu.pid", "-daemonize",
		"-fw_cfg name=opt/paddock/boot,file=/s/m1/boot.cfg", "-qmp unix:qmp.sock,server=on,wait=off", "-no-reboot"} {
		if !strings.Contains(args, want) {
			t.Errorf("args lack %q: %s", want, args)
		}
	}
	kvm := strings.Join(vmArgs(vmConfig{name: "m", dir: "/d", accel: "kvm", cpus: 1, memoryMB: 512}), " ")
	if !strings.Contains(kvm, "accel=kvm -cpu host") {
		t.Errorf("kvm args: %s", kvm)
	}
}

func TestAutoAccelFallsBackToTCGWithoutKVM(t *testing.T) {
	old := kvmDevice
	kvmDevice = filepath.Join(t.TempDir(), "no-kvm")
	defer func() { kvmDevice = old }()
	var a accelProbe
	o := Options{Accel: "auto", Logger: slog.New(slog.DiscardHandler)}
	if got := a.get(context.Background(), o, image.Image{}); got != "tcg" {
		t.Fatalf("auto without KVM = %s", got)
	}
	if reason := probeKVM(context.Background(), o, image.Image{}); !strings.Contains(reason, "no-kvm") {
		t.Fatalf("reason = %q", reason)
	}
	var b accelProbe
	if got := b.get(context.Background(), Options{Accel: "kvm"}, image.Image{}); got != "kvm" {
		t.Fatalf("explicit kvm = %s", got)
	}
}

func TestBootFromConsole(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "console.log"), []byte("noise\npaddock-init: up 1.87\nmore\n"+
		"bootstrap: runner r1, tools actions-runner-linux-arm64-2.330.0.tar.gz\npaddock-guest: timing init=1.87 net=2.01 agent=2.10 config=2.35 runner=2.60 online=2.95 bad=x\n"), 0o600)
	b, ok := readBoot(dir)
	if !ok || b.Init != 1870*time.Millisecond {
		t.Fatalf("boot = %+v, %v", b, ok)
	}
	if b.Tools != "actions-runner-linux-arm64-2.330.0.tar.gz" {
		t.Fatalf("tools = %q", b.Tools)
	}
	if b.Stamps["online"] != 2950*time.Millisecond || b.Stamps["config"] != 2350*time.Millisecond || len(b.Stamps) != 6 {
		t.Fatalf("stamps = %v", b.Stamps)
	}
	os.WriteFile(filepath.Join(dir, "console.log"), []byte("kernel panic\n"), 0o600)
	if _, ok := readBoot(dir); ok {
		t.Fatal("a VM that never reached init has a boot time")
	}
}

// arm64 guests boot on QEMU's virt machine with their own console; x64
// guests keep the pc machine. Pools name the architectures as forges do.
func TestArm64Args(t *testing.T) {
	args := strings.Join(vmArgs(vmConfig{name: "m1", dir: "/s/m1", accel: "tcg", arch: "arm64", kernel: "/k", initrd: "/i", cpus: 1, memoryMB: 512}), " ")
	for _, want := range []string{"-machine virt,accel=tcg", "-cpu max,pauth-impdef=on", "console=ttyAMA0", "virtio-net-pci"} {
		if !strings.Contains(args, want) {
			t.Errorf("arm64 args lack %q: %s", want, args)
		}
	}
	if strings.Contains(args, "ttyS0") || strings.Contains(args, "i8042") {
		t.Errorf("arm64 args carry x86 settings: %s", args)
	}
	x := strings.Join(vmArgs(vmConfig{name: "m1", dir: "/s/m1", accel: "tcg", kernel: "/k", initrd: "/i", cpus: 1, memoryMB: 512}), " ")
	if !strings.Contains(x, "-machine pc,accel=tcg -cpu qemu64") || !strings.Contains(x, "console=ttyS0") {
		t.Errorf("x64 args: %s", x)
	}
	for pool, want := range map[string]string{"": "amd64", "x64": "amd64", "arm64": "arm64"} {
		if got, err := guestArch(pool); err != nil || got != want {
			t.Errorf("guestArch(%q) = %s, %v", pool, got, err)
		}
	}
	if _, err := guestArch("riscv64"); err == nil {
		t.Error("riscv64 accepted")
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	good := Options{StateDir: t.TempDir(), ControllerID: "c", ImageDir: t.TempDir(), RelayCommand: []string{"x"}, Binary: "/bin/true"}
	if _, err := New(good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*Options){
		"no state dir": func(o *Options) { o.StateDir = "" },
		"no relay":     func(o *Options) { o.RelayCommand = nil },
		"bad accel":    func(o *Options) { o.Accel = "hvf" },
		"no qemu":      func(o *Options) { o.Binary = "/nonexistent/qemu" },
		"bad forward":  func(o *Options) { o.Forward = []string{"1.2.3.4"} },
	} {
		o := good
		mod(&o)
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	p, _ := New(good)
	for _, n := range []string{"", "..", "a/b", "a,b", strings.Repeat("x", 101)} {
		if _, err := p.Get(context.Background(), n); err == nil || err.Error() == "machine not found" {
			t.Errorf("name %q: %v", n, err)
		}
	}
	if _, err := p.Create(context.Background(), specFor("m")); err == nil || !strings.Contains(err.Error(), "image build") {
		t.Fatalf("create without an image: %v", err)
	}
}

func TestRelayCopiesBothWays(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		b, _ := io.ReadAll(c) // until the relay passes on the guest's half-close
		c.Write([]byte("echo:" + string(b)))
		c.Close()
	}()
	var out strings.Builder
	if err := Relay(context.Background(), l.Addr().String(), strings.NewReader("hello"), &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != "echo:hello" {
		t.Fatalf("relay out = %q", out.String())
	}
	if err := Relay(context.Background(), "no-port", strings.NewReader(""), io.Discard); err == nil {
		t.Fatal("bad address accepted")
	}
}

func specFor(name string) provider.Spec {
	return provider.Spec{Name: name, MetadataURL: "http://127.0.0.1:1/m", CallbackURL: "http://127.0.0.1:1/c", Token: "t"}
}

// A pool with arch: arm64 and no arm64 image built: Create fails with an
// error that names the command that builds one, and starts nothing.
func TestArm64WithoutImageSaysHowToBuildIt(t *testing.T) {
	state, images := t.TempDir(), t.TempDir()
	p, err := New(Options{StateDir: state, ControllerID: "c", ImageDir: images, RelayCommand: []string{"x"},
		Binary: "/bin/true", BinaryArm64: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Create(context.Background(), provider.Spec{Name: "paddock-arm1", Arch: "arm64",
		MetadataURL: "http://127.0.0.1:1/m", CallbackURL: "http://127.0.0.1:1/c", Token: "t"})
	if err == nil || !strings.Contains(err.Error(), "no arm64 fast image") || !strings.Contains(err.Error(), "paddock image build --arch arm64") {
		t.Fatalf("err = %v", err)
	}
	if entries, _ := os.ReadDir(state); len(entries) > 1 {
		t.Fatalf("state dir after a refused create: %v", entries)
	}
	// Without qemu-system-aarch64 the error names the package to install.
	p.opts.BinaryArm64 = "/nonexistent/qemu-system-aarch64"
	_, err = p.Create(context.Background(), provider.Spec{Name: "paddock-arm2", Arch: "arm64"})
	if err == nil || !strings.Contains(err.Error(), "qemu-system-arm") {
		t.Fatalf("no emulator: err = %v", err)
	}
}

// Different names do not wait for each other; the same name does.
func TestNameLocks(t *testing.T) {
	var n nameLocks
	unlockA := n.lock("a")
	done := make(chan struct{})
	go func() { n.lock("b")(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("b waited for a")
	}
	// The same name waits: a counter the holders of "a" bump inside the
	// lock never sees two of them at once (the race detector watches too).
	inside := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock := n.lock("a")
			inside++
			if inside != 1 {
				t.Error("two holders of a")
			}
			inside--
			unlock()
		}()
	}
	unlockA()
	wg.Wait()
	if len(n.locks) != 0 {
		t.Fatalf("locks left: %v", n.locks)
	}
}
