package qemu

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
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

func TestBootTimeFromConsole(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "console.log"), []byte("noise\npaddock-init: up 1.87\nmore\n"), 0o600)
	if d, ok := bootTime(dir); !ok || d != 1870*time.Millisecond {
		t.Fatalf("boot time = %s, %v", d, ok)
	}
	os.WriteFile(filepath.Join(dir, "console.log"), []byte("kernel panic\n"), 0o600)
	if _, ok := bootTime(dir); ok {
		t.Fatal("a VM that never reached init has a boot time")
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
