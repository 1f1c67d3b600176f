package qemu_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

// TestScratchDiskIsEncrypted: the workspace lives on the scratch disk, yet a
// marker the job writes there never appears in plain text in the disk image
// on the host; the image is deleted with the VM.
func TestScratchDiskIsEncrypted(t *testing.T) {
	needVM(t)
	const marker = "PLAINTEXT-MARKER-7f3a9c"
	runSh := `#!/bin/sh
grep ' /work ' /proc/mounts | grep -q '^/dev/dm-' || { echo "SCRATCH not mounted on dm-crypt"; cat /proc/mounts; sleep 600; }
for i in $(seq 1 2000); do echo "` + marker + `"; done > /work/marker.txt
sync
grep -q "` + marker + `" /work/marker.txt && echo "SCRATCH written"
sleep 600
`
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	mgr := newFakeManagerOn(t, addr, "tok-s", runnerTarball(t, runSh))
	dir := t.TempDir()
	p, err := qemu.New(qemu.Options{StateDir: dir, ControllerID: "c", ImageDir: imageDir, Accel: "tcg",
		RelayCommand: []string{paddockBin, "qemu-relay"}, ScratchGB: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Create(ctx, provider.Spec{Name: "s1", MetadataURL: mgr.srv.URL + "/meta", CallbackURL: mgr.srv.URL + "/cb", Token: "tok-s"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Delete(context.Background(), "s1") })
	console := filepath.Join(dir, "s1", "console.log")
	waitFor(t, "the job to write its marker to the scratch workspace", 2*time.Minute, func() bool {
		b, _ := os.ReadFile(console)
		if bytes.Contains(b, []byte("SCRATCH not mounted")) {
			t.Fatalf("workspace not on the encrypted disk:\n%s", b)
		}
		return bytes.Contains(b, []byte("SCRATCH written"))
	})
	img := filepath.Join(dir, "s1", "scratch.img")
	disk, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(disk, []byte(marker)) {
		t.Fatal("the scratch disk image holds the marker in plain text")
	}
	// Not vacuous: the guest did write (ciphertext) to the disk.
	if n := len(bytes.Trim(disk, "\x00")); n < 64<<10 {
		t.Fatalf("only %d non-zero bytes on the scratch disk: was it used?", n)
	}
	if err := p.Delete(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(img); !os.IsNotExist(err) {
		t.Fatal("the scratch disk image survived Delete")
	}
}
