package qemu

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/paddock-ci/paddock/internal/image"
)

// startRestored starts the VM v from its snapshot template if it can and
// reports whether it did. It cannot when the VM is not a plain x64 fast-image
// one (the only kind templates are made of), when the template is missing
// or corrupt (being rebuilt meanwhile), or when the restore fails; then the
// reason is logged, whatever the attempt left is cleaned up, and the caller
// cold-boots.
func (p *Provider) startRestored(ctx context.Context, binary string, v vmConfig, img image.Image, meta, cb, token string) bool {
	log := p.opts.Logger.With("name", v.name)
	switch {
	case v.cloud:
		log.Info("qemu: cold boot: snapshot start covers the fast image only, not cloud images")
		return false
	case v.arch != "amd64":
		log.Info("qemu: cold boot: snapshot start covers x64 guests only", "arch", v.arch)
		return false
	case v.scratch:
		log.Info("qemu: cold boot: snapshot start covers VMs without a scratch disk only")
		return false
	}
	v.snapshot = true
	state, why := p.template(binary, v, img)
	if state == "" {
		log.Info("qemu: cold boot: " + why)
		return false
	}
	began := time.Now()
	started, err := p.restore(ctx, binary, v.dir, v, state, v.name, meta, cb, token)
	if err == nil {
		p.bootMu.Lock()
		if p.restores == nil {
			p.restores = map[string][2]time.Time{}
		}
		p.restores[v.name] = [2]time.Time{started, time.Now()}
		p.bootMu.Unlock()
		log.Info("qemu: VM restored from snapshot", "accel", v.accel, "cpu", v.cpus, "memory_mb", v.memoryMB,
			"qemu_started", started.Sub(began).Round(time.Millisecond), "identity_taken", time.Since(began).Round(time.Millisecond))
		return true
	}
	console, _ := os.ReadFile(filepath.Join(v.dir, "console.log"))
	err = fmt.Errorf("%w (QEMU running: %v; console: %q)", err, vmPID(v.dir) != 0, tail(console))
	_ = stop(context.WithoutCancel(ctx), v.dir)
	for _, f := range []string{"qemu.pid", "qmp.sock", identitySocket, "console.log"} {
		_ = os.Remove(filepath.Join(v.dir, f))
	}
	if ctx.Err() == nil {
		// The restore itself failed: the template goes and is rebuilt.
		p.discardTemplate(state)
		log.Warn("qemu: cold boot: restore from the snapshot template failed; template removed", "err", err)
	}
	return false
}

// identitySocket is the host side of a snapshot VM's identity port.
const identitySocket = "id.sock"

// identity is what a restored VM's agent reads on its port: the boot
// settings a cold boot gets through fw_cfg and 64 bytes of fresh entropy
// for the guest's random generator (the host's clock follows separately).
func identity(name, meta, cb, token string) []byte {
	seed := make([]byte, 64)
	_, _ = rand.Read(seed)
	return fmt.Appendf(nil, "PADDOCK_INSTANCE_NAME=%s\nPADDOCK_METADATA_URL=%s\nPADDOCK_CALLBACK_URL=%s\nPADDOCK_INSTANCE_TOKEN=%s\nPADDOCK_ENTROPY=%x\nEND\n",
		name, meta, cb, token, seed)
}

// restore starts a VM from the template's state file and hands it its
// identity; it returns once the guest has acknowledged it, and when QEMU
// had started (daemonized).
func (p *Provider) restore(ctx context.Context, binary, dir string, v vmConfig, state, name, meta, cb, token string) (started time.Time, err error) {
	f, err := os.Open(state)
	if err != nil {
		return started, err
	}
	defer f.Close()
	// QEMU reads the stream from fd 3 into this VM's own memory: nothing of
	// the template is shared or written by the clone.
	if err := p.start(ctx, binary, dir, append(vmArgs(v), "-incoming", "fd:3"), f); err != nil {
		return started, err
	}
	started = time.Now()
	return started, p.giveIdentity(ctx, dir, name, meta, cb, token)
}

// giveIdentity sends a restored VM its identity and the time.
func (p *Provider) giveIdentity(ctx context.Context, dir, name, meta, cb, token string) error {
	dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	conn, err := dialUnix(dctx, filepath.Join(dir, identitySocket))
	if err != nil {
		return fmt.Errorf("identity socket: %w", err)
	}
	defer conn.Close()
	dl, _ := dctx.Deadline()
	_ = conn.SetDeadline(dl)
	// The exchange is paddock-guest's waitIdentity (cmd/paddock-guest).
	for _, msg := range [][]byte{identity(name, meta, cb, token), nil} {
		if msg == nil {
			msg = fmt.Appendf(nil, "PADDOCK_TIME_NS=%d\n", time.Now().UnixNano())
		}
		if _, err := conn.Write(msg); err != nil {
			return fmt.Errorf("send the identity: %w", err)
		}
		ack := make([]byte, 3)
		if _, err := io.ReadFull(conn, ack); err != nil || string(ack) != "OK\n" {
			return fmt.Errorf("the restored guest did not acknowledge its identity: %q %v", ack, err)
		}
	}
	return nil
}
