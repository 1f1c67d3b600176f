package qemu

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/paddock-ci/paddock/internal/image"
)

// Start modes (Options.Start).
const (
	// StartBoot cold-boots every VM from the fast image (the default).
	StartBoot = "boot"
	// StartSnapshot restores every fast-image VM from a template: a VM
	// booted once without identity and saved while its agent waited for one.
	// The identity goes in after the restore, over a virtio-serial port only
	// that VM's QEMU serves (see docs/qemu.md).
	StartSnapshot = "snapshot"
)

// snapshotFormat changes whenever what a template holds or how a restored VM
// is given its identity changes, so older templates are never restored.
const snapshotFormat = "paddock-snapshot-2"

// templatesDir, under the state dir, holds one directory per template key.
// Its leading dot keeps it out of the instance listing.
const templatesDir = ".templates"

// waitingMarker is what paddock-guest prints once it waits for its identity:
// the moment to save the template.
var waitingMarker = []byte("paddock-guest: waiting for identity")

// templateMeta describes a saved template; restores check the state file
// against it, and builds prune templates no longer usable.
type templateMeta struct {
	Key    string `json:"key"`
	Image  string `json:"image"`
	QEMU   string `json:"qemu"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

type fileStamp struct {
	size  int64
	mtime time.Time
}

// snapshots is the provider's template bookkeeping.
type snapshots struct {
	mu       sync.Mutex
	building map[string]chan struct{}
	buildErr []error
	verified map[string]fileStamp // state files whose sha256 was checked, as they were then
	versions map[string]string    // QEMU binary → its -version line
}

// qemuVersion is the binary's version line, part of the template key: a
// migration stream is only sure to load into the QEMU that wrote it.
func (p *Provider) qemuVersion(binary string) (string, error) {
	s := &p.snap
	s.mu.Lock()
	v, ok := s.versions[binary]
	s.mu.Unlock()
	if ok {
		return v, nil
	}
	out, err := exec.Command(binary, "-version").Output()
	if err != nil {
		return "", fmt.Errorf("%s -version: %w", binary, err)
	}
	v = strings.SplitN(strings.TrimSpace(string(out)), "\n", 2)[0]
	s.mu.Lock()
	if s.versions == nil {
		s.versions = map[string]string{}
	}
	s.versions[binary] = v
	s.mu.Unlock()
	return v, nil
}

// templateKey names the template a VM of config v restores from. It covers
// the QEMU version, the image, and QEMU's whole command line except the
// instance's own paths (which fixes the architecture, accelerator, CPU
// count, memory, devices, kernel command line and network forwards).
func templateKey(version, imageKey string, v vmConfig) string {
	v.name, v.dir = "template", "@DIR@"
	h := sha256.New()
	for _, s := range append([]string{snapshotFormat, version, imageKey}, vmArgs(v)...) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// template returns the state file to restore v from, or "" and why not; a
// missing or corrupt template is (re)built in the background meanwhile.
func (p *Provider) template(binary string, v vmConfig, img image.Image) (string, string) {
	version, err := p.qemuVersion(binary)
	if err != nil {
		return "", err.Error()
	}
	key := templateKey(version, img.Key, v)
	dir := filepath.Join(p.opts.StateDir, templatesDir, key)
	state := filepath.Join(dir, "state.bin")
	var meta templateMeta
	b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err == nil {
		err = json.Unmarshal(b, &meta)
	}
	if errors.Is(err, os.ErrNotExist) {
		p.buildTemplate(binary, v, img, version, key)
		return "", "no snapshot template " + key + " yet; building it"
	}
	if err == nil {
		err = p.verify(state, meta)
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		p.buildTemplate(binary, v, img, version, key)
		return "", fmt.Sprintf("snapshot template %s unusable (%v); removed it, rebuilding", key, err)
	}
	return state, ""
}

// verify checks the state file's size and sha256 against its meta, once per
// version of the file (size and mtime): a corrupt stream would otherwise
// surface only as a VM that never comes up.
func (p *Provider) verify(state string, meta templateMeta) error {
	fi, err := os.Stat(state)
	if err != nil {
		return err
	}
	stamp := fileStamp{fi.Size(), fi.ModTime()}
	p.snap.mu.Lock()
	ok := p.snap.verified[state] == stamp
	p.snap.mu.Unlock()
	if ok {
		return nil
	}
	if fi.Size() != meta.Size {
		return fmt.Errorf("state file is %d bytes, template says %d", fi.Size(), meta.Size)
	}
	sum, err := fileSHA256(state)
	if err != nil {
		return err
	}
	if sum != meta.SHA256 {
		return errors.New("state file sha256 does not match the template's")
	}
	p.snap.mu.Lock()
	if p.snap.verified == nil {
		p.snap.verified = map[string]fileStamp{}
	}
	p.snap.verified[state] = stamp
	p.snap.mu.Unlock()
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// discardTemplate removes a template whose restore failed, so the next
// Create builds a new one rather than failing the same way.
func (p *Provider) discardTemplate(state string) {
	p.snap.mu.Lock()
	delete(p.snap.verified, state)
	p.snap.mu.Unlock()
	_ = os.RemoveAll(filepath.Dir(state))
}

// buildTemplate starts building the template key unless a build of it runs.
func (p *Provider) buildTemplate(binary string, v vmConfig, img image.Image, version, key string) {
	s := &p.snap
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.building[key]; ok {
		return
	}
	if s.building == nil {
		s.building = map[string]chan struct{}{}
	}
	done := make(chan struct{})
	s.building[key] = done
	go func() {
		start := time.Now()
		err := p.saveTemplate(context.Background(), binary, v, img, version, key)
		if err != nil {
			p.opts.Logger.Warn("qemu: snapshot template build failed; VMs cold-boot", "key", key, "err", err)
		} else {
			p.opts.Logger.Info("qemu: snapshot template ready", "key", key, "took", time.Since(start).Round(time.Millisecond))
		}
		s.mu.Lock()
		delete(s.building, key)
		if err != nil {
			s.buildErr = append(s.buildErr, fmt.Errorf("template %s: %w", key, err))
		}
		s.mu.Unlock()
		close(done)
	}()
}

// WaitSnapshots waits for the template builds under way and returns the
// errors of the builds that failed since the last call.
func (p *Provider) WaitSnapshots(ctx context.Context) error {
	for {
		p.snap.mu.Lock()
		var done chan struct{}
		for _, ch := range p.snap.building {
			done = ch
			break
		}
		if done == nil {
			err := errors.Join(p.snap.buildErr...)
			p.snap.buildErr = nil
			p.snap.mu.Unlock()
			return err
		}
		p.snap.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// saveTemplate boots a VM without identity in a build directory, waits until
// its agent waits for the identity, saves the stopped VM's state with QMP
// migrate and moves the result into place.
func (p *Provider) saveTemplate(ctx context.Context, binary string, v vmConfig, img image.Image, version, key string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	root := filepath.Join(p.opts.StateDir, templatesDir)
	build := filepath.Join(root, ".build-"+key)
	// A build a dead manager left: its QEMU (if any) runs with this pidfile.
	_ = stop(ctx, build)
	_ = os.RemoveAll(build)
	if err := os.MkdirAll(build, 0o700); err != nil {
		return err
	}
	defer func() {
		_ = stop(context.WithoutCancel(ctx), build)
		_ = os.RemoveAll(build)
	}()
	v.name, v.dir = "template", build
	if err := p.start(ctx, binary, build, vmArgs(v), nil); err != nil {
		return fmt.Errorf("start the template VM: %w", err)
	}
	// Connected now, the port is "host connected" in the saved state, so
	// the guest's read blocks rather than returning end-of-file.
	id, err := dialUnix(ctx, filepath.Join(build, identitySocket))
	if err != nil {
		return fmt.Errorf("identity socket: %w", err)
	}
	defer id.Close()
	if err := waitConsole(ctx, build, waitingMarker); err != nil {
		return err
	}
	state := filepath.Join(build, "state.bin")
	q, err := dialQMP(ctx, build)
	if err != nil {
		return err
	}
	defer q.Close()
	// Migrated while running (the idle guest converges at once), the stream
	// records the run state "running", so a restore starts the guest by
	// itself; a template stopped first would restore paused.
	if _, err := q.do("migrate", map[string]string{"uri": "exec:cat > " + shellWord(state)}); err != nil {
		return err
	}
	if err := waitMigration(ctx, q); err != nil {
		return err
	}
	q.Close()
	if err := stop(ctx, build); err != nil {
		return err
	}
	meta := templateMeta{Key: key, Image: img.Key, QEMU: version}
	if meta.SHA256, err = fileSHA256(state); err != nil {
		return err
	}
	fi, err := os.Stat(state)
	if err != nil {
		return err
	}
	meta.Size = fi.Size()
	b, _ := json.Marshal(meta)
	if err := os.WriteFile(filepath.Join(build, "meta.json"), b, 0o600); err != nil {
		return err
	}
	for _, f := range []string{"qmp.sock", identitySocket, "qemu.pid"} {
		_ = os.Remove(filepath.Join(build, f))
	}
	final := filepath.Join(root, key)
	_ = os.RemoveAll(final)
	if err := os.Rename(build, final); err != nil {
		return err
	}
	// Just hashed: the first restore need not hash it again.
	if fi, err := os.Stat(filepath.Join(final, "state.bin")); err == nil && fi.Size() == meta.Size {
		p.snap.mu.Lock()
		if p.snap.verified == nil {
			p.snap.verified = map[string]fileStamp{}
		}
		p.snap.verified[filepath.Join(final, "state.bin")] = fileStamp{fi.Size(), fi.ModTime()}
		p.snap.mu.Unlock()
	}
	pruneTemplates(root, meta)
	return nil
}

// cleanTemplateBuilds removes the template builds a previous manager left
// (it died mid-build); a new provider has none of its own running yet. Each
// one's QEMU, if still there, is the one with that build's pidfile.
func cleanTemplateBuilds(stateDir string) {
	builds, _ := filepath.Glob(filepath.Join(stateDir, templatesDir, ".build-*"))
	for _, b := range builds {
		if stop(context.Background(), b) == nil {
			_ = os.RemoveAll(b)
		}
	}
}

// waitConsole waits until the console log holds marker (or QEMU is gone).
func waitConsole(ctx context.Context, dir string, marker []byte) error {
	for {
		b, _ := os.ReadFile(filepath.Join(dir, "console.log"))
		if strings.Contains(string(b), string(marker)) {
			return nil
		}
		if vmPID(dir) == 0 {
			return fmt.Errorf("template VM stopped before its agent waited for an identity; console:\n%s", tail(b))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("template VM: agent not waiting for an identity: %w; console:\n%s", ctx.Err(), tail(b))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func tail(b []byte) []byte { return b[max(0, len(b)-2000):] }

// waitMigration polls query-migrate until the state is written.
func waitMigration(ctx context.Context, q *qmpConn) error {
	for {
		raw, err := q.do("query-migrate", nil)
		if err != nil {
			return err
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		_ = json.Unmarshal(raw, &st)
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return fmt.Errorf("saving the template failed: %s %s", st.Status, st.ErrorDesc)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("saving the template: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// pruneTemplates removes templates of another image or QEMU version, which
// can never be restored again. Templates of the same image and QEMU for
// other VM sizes stay; so does anything without a readable meta.json.
func pruneTemplates(root string, cur templateMeta) {
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if !e.IsDir() || e.Name() == cur.Key || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		var m templateMeta
		b, err := os.ReadFile(filepath.Join(root, e.Name(), "meta.json"))
		if err != nil || json.Unmarshal(b, &m) != nil || m.Key != e.Name() {
			continue
		}
		if m.Image != cur.Image || m.QEMU != cur.QEMU {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}
