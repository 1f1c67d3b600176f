package qemu

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// initMarker is what the fast image's init prints first, with the guest's
// uptime: the time from kernel start to init.
var initMarker = []byte("paddock-init: up ")

// bootTime reads how long the guest took from kernel start to init from the
// instance's console log; ok is false if init never started.
func bootTime(dir string) (time.Duration, bool) {
	f, err := os.Open(filepath.Join(dir, "console.log"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if i := bytes.Index(line, initMarker); i >= 0 {
			secs, err := strconv.ParseFloat(string(bytes.TrimSpace(line[i+len(initMarker):])), 64)
			if err != nil {
				return 0, false
			}
			return time.Duration(secs * float64(time.Second)), true
		}
	}
	return 0, false
}

// BootTimes returns kernel start → init of every VM this provider deleted
// (read from their console logs just before deletion), oldest first.
func (p *Provider) BootTimes() []time.Duration {
	p.bootMu.Lock()
	defer p.bootMu.Unlock()
	return append([]time.Duration(nil), p.boots...)
}

func (p *Provider) recordBoot(dir string) {
	if d, ok := bootTime(dir); ok {
		p.bootMu.Lock()
		p.boots = append(p.boots, d)
		p.bootMu.Unlock()
	}
}
