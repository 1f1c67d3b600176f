package qemu

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/image"
)

// kvmDevice is where KVM is; a variable so tests can point it elsewhere.
var kvmDevice = "/dev/kvm"

// probeTimeout bounds the KVM probe boot. A working KVM reaches init in well
// under a second; nested KVM on some hosts hangs right after the kernel is
// decompressed, which only a real boot reveals.
var probeTimeout = 20 * time.Second

// accelProbe decides once per provider which accelerator "auto" means.
type accelProbe struct {
	once   sync.Once
	result string
}

func (a *accelProbe) get(ctx context.Context, o Options, img image.Image) string {
	if o.Accel != "auto" {
		return o.Accel
	}
	a.once.Do(func() {
		// The answer is kept for the provider's life: a cancelled Create must not decide it.
		reason := probeKVM(context.WithoutCancel(ctx), o, img)
		if reason == "" {
			a.result = "kvm"
			o.Logger.Info("qemu: KVM works; using it")
			return
		}
		a.result = "tcg"
		o.Logger.Warn("qemu: using software emulation (TCG), VMs will be slower", "reason", reason)
	})
	return a.result
}

// probeKVM boots the fast image under KVM without boot settings and waits for
// its init to print that it is up. It returns "" if KVM works, else why not.
func probeKVM(ctx context.Context, o Options, img image.Image) string {
	f, err := os.OpenFile(kvmDevice, os.O_RDWR, 0)
	if err != nil {
		return "cannot open " + kvmDevice + ": " + err.Error()
	}
	f.Close()
	dir, err := os.MkdirTemp("", "paddock-kvm-probe-")
	if err != nil {
		return err.Error()
	}
	defer os.RemoveAll(dir)
	console := filepath.Join(dir, "console.log")
	pctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(pctx, o.Binary, "-nodefaults", "-no-user-config", "-display", "none",
		"-machine", "pc,accel=kvm", "-cpu", "host", "-m", "256", "-kernel", img.Kernel, "-initrd", img.Initrd,
		"-append", "console=ttyS0 quiet panic=-1", "-no-reboot",
		"-chardev", "file,id=con,path="+optEscape(console), "-serial", "chardev:con")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err.Error()
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if b, _ := os.ReadFile(console); bytes.Contains(b, []byte("paddock-init: up")) {
				return ""
			}
			return "KVM boot failed: " + errString(err) + " " + string(bytes.TrimSpace(out.Bytes()))
		case <-pctx.Done():
			<-done
			return "KVM guest did not reach init within " + probeTimeout.String() + " (nested virtualization hangs?)"
		case <-tick.C:
			if b, _ := os.ReadFile(console); bytes.Contains(b, []byte("paddock-init: up")) {
				cancel()
				<-done
				return ""
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return "exited"
	}
	return err.Error()
}
