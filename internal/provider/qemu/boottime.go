package qemu

import (
	"bufio"
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// initMarker is what the fast image's init prints first, with the guest's
// uptime: the time from kernel start to init.
var initMarker = []byte("paddock-init: up ")

// timingMarker starts paddock-guest's timing line: the guest's uptime at
// each phase of the boot, as name=seconds fields.
var timingMarker = []byte("paddock-guest: timing ")

// toolsMarker is the bootstrap's log line naming the runner package.
var toolsMarker = []byte(", tools ")

// Boot is what one VM's console says about its boot.
type Boot struct {
	Name string
	Arch string
	// Launched is when the provider started QEMU (host clock).
	Launched time.Time
	// Init is kernel start → init.
	Init time.Duration
	// Stamps is the guest's uptime at each phase paddock-guest reported:
	// init, modules, net, agent, config, runner, online (those reached).
	// A VM restored from a snapshot also has identity (received) and seeded
	// (clock and random generator set); its init … agent stamps are the
	// template's, from before it was saved.
	Stamps map[string]time.Duration
	// Tools is the runner package the guest downloaded (its file name).
	Tools string
	// QEMUStarted and IdentityTaken (host clock) are, for a restored VM,
	// when QEMU had started (daemonized, the state still loading) and when
	// the guest had acknowledged its identity.
	QEMUStarted, IdentityTaken time.Time
}

// readBoot parses the instance's console log; ok is false if init never
// started.
func readBoot(dir string) (Boot, bool) {
	var b Boot
	f, err := os.Open(filepath.Join(dir, "console.log"))
	if err != nil {
		return b, false
	}
	defer f.Close()
	ok := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.Index(line, initMarker); i >= 0 && !ok {
			d, err := seconds(bytes.TrimSpace(line[i+len(initMarker):]))
			if err != nil {
				return b, false
			}
			b.Init, ok = d, true
		}
		if bytes.HasPrefix(line, []byte("bootstrap: runner ")) {
			if i := bytes.Index(line, toolsMarker); i >= 0 {
				b.Tools = string(bytes.TrimSpace(line[i+len(toolsMarker):]))
			}
		}
		if i := bytes.Index(line, timingMarker); i >= 0 {
			b.Stamps = map[string]time.Duration{}
			for _, f := range bytes.Fields(line[i+len(timingMarker):]) {
				k, v, found := bytes.Cut(f, []byte("="))
				if d, err := seconds(v); found && err == nil {
					b.Stamps[string(k)] = d
				}
			}
		}
	}
	// A restored VM's console starts after the restore: no init line.
	return b, ok || b.Restored()
}

// Restored says whether the VM was restored from a snapshot template.
func (b Boot) Restored() bool {
	_, ok := b.Stamps["identity"]
	return ok
}

func seconds(b []byte) (time.Duration, error) {
	s, err := strconv.ParseFloat(string(b), 64)
	return time.Duration(s * float64(time.Second)), err
}

// Boots returns what the consoles of the VMs this provider deleted said
// about their boots (read just before deletion), oldest first.
func (p *Provider) Boots() []Boot {
	p.bootMu.Lock()
	defer p.bootMu.Unlock()
	return append([]Boot(nil), p.boots...)
}

func (p *Provider) recordBoot(dir string, rec record) {
	if b, ok := readBoot(dir); ok {
		b.Name, b.Arch, b.Launched = rec.Name, cmp.Or(rec.Arch, "amd64"), rec.CreatedAt
		p.bootMu.Lock()
		if r, ok := p.restores[rec.Name]; ok {
			b.QEMUStarted, b.IdentityTaken = r[0], r[1]
			delete(p.restores, rec.Name)
		}
		p.boots = append(p.boots, b)
		p.bootMu.Unlock()
	}
}
