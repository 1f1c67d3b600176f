package scratch

import (
	"encoding/binary"
	"strings"
	"testing"
)

func TestIoctlNumbersMatchLinux(t *testing.T) {
	// Values from linux/dm-ioctl.h as compiled on x86-64.
	for cmd, want := range map[uintptr]uintptr{dmDevCreate: 0xc138fd03, dmDevSuspend: 0xc138fd06, dmTableLoad: 0xc138fd09} {
		if got := dmIoctlNr(cmd); got != want {
			t.Errorf("ioctl %d = %#x, want %#x", cmd, got, want)
		}
	}
}

func TestTableLoadLayout(t *testing.T) {
	b := tableLoad("scratch", 2097152, "crypt", "aes-xts-plain64 00ff 0 /dev/vda 0")
	le := binary.LittleEndian
	if le.Uint32(b[0:]) != 4 || int(le.Uint32(b[12:])) != len(b) || le.Uint32(b[16:]) != dmIoctlSize || le.Uint32(b[20:]) != 1 {
		t.Fatalf("header: version %d size %d/%d start %d targets %d", le.Uint32(b[0:]), le.Uint32(b[12:]), len(b), le.Uint32(b[16:]), le.Uint32(b[20:]))
	}
	if name := strings.TrimRight(string(b[dmNameOffset:dmNameOffset+dmNameLen]), "\x00"); name != "scratch" {
		t.Fatalf("name = %q", name)
	}
	spec := b[dmIoctlSize:]
	if le.Uint64(spec[0:]) != 0 || le.Uint64(spec[8:]) != 2097152 || strings.TrimRight(string(spec[24:40]), "\x00") != "crypt" {
		t.Fatalf("target spec: start %d length %d type %q", le.Uint64(spec[0:]), le.Uint64(spec[8:]), spec[24:40])
	}
	params := spec[dmSpecSize:]
	if i := strings.IndexByte(string(params), 0); i < 0 || string(params[:i]) != "aes-xts-plain64 00ff 0 /dev/vda 0" {
		t.Fatalf("params = %q", params)
	}
	if len(spec)%8 != 0 || int(le.Uint32(spec[20:])) != len(spec) {
		t.Fatalf("spec size %d, next %d: must be 8-aligned and equal", len(spec), le.Uint32(spec[20:]))
	}
}

func TestOpenRefusesBadInput(t *testing.T) {
	for _, name := range []string{"", "a/b", strings.Repeat("n", 128)} {
		if _, err := Open("/dev/vda", name); err == nil || !strings.Contains(err.Error(), "bad volume name") {
			t.Errorf("name %q: %v", name, err)
		}
	}
	if _, err := Open("/dev/no-such-disk-xyz", "s"); err == nil || !strings.Contains(err.Error(), "size of") {
		t.Errorf("missing device: %v", err)
	}
}
