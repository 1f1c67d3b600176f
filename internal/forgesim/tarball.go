package forgesim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// downloadArchs are the runner packages the sim offers, like GitHub's
// actions-runner-linux-{x64,arm64}-VERSION.tar.gz.
var downloadArchs = []string{"x64", "arm64"}

func tarballName(arch string) string {
	return fmt.Sprintf("actions-runner-linux-%s-%s.tar.gz", arch, runnerVersion)
}

// shellQuote quotes one word for /bin/sh.
func shellQuote(w string) string {
	if w != "" && strings.IndexFunc(w, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@", r))
	}) < 0 {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// RunScript is the run.sh the sim's runner package contains.
func RunScript(command []string) string {
	if len(command) == 0 {
		return "#!/bin/sh\necho 'forgesim: no RunnerCommand configured' >&2\nexit 1\n"
	}
	q := make([]string, len(command))
	for i, w := range command {
		q[i] = shellQuote(w)
	}
	return "#!/bin/sh\n# Simulated GitHub Actions runner (forgesim).\nexec " + strings.Join(q, " ") + " \"$@\"\n"
}

// buildTarball makes a reproducible runner package: fixed mtimes and no
// gzip timestamp, so its checksum is stable for a given RunnerCommand.
func buildTarball(command []string) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	mtime := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	files := []struct {
		name string
		mode int64
		body string
	}{
		{"run.sh", 0o755, RunScript(command)},
		{"config.sh", 0o755, "#!/bin/sh\necho 'forgesim: use run.sh --jitconfig <config>' >&2\nexit 1\n"},
		{"README.txt", 0o644, "Simulated GitHub Actions runner package served by forgesim.\n"},
	}
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.body)), ModTime: mtime,
			Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// tarball returns the package bytes for filename, building them once.
func (s *Sim) tarball(filename string) ([]byte, bool) {
	known := false
	for _, a := range downloadArchs {
		known = known || filename == tarballName(a)
	}
	if !known {
		return nil, false
	}
	s.tarMu.Lock()
	defer s.tarMu.Unlock()
	if b, ok := s.tarballs[filename]; ok {
		return b, true
	}
	b, err := buildTarball(s.opts.RunnerCommand)
	if err != nil {
		s.opts.Logf("forgesim: building %s: %v", filename, err)
		return nil, false
	}
	s.tarballs[filename] = b
	return b, true
}

func (s *Sim) handleDownloads(w http.ResponseWriter, r *http.Request) {
	base := s.MachineURL()
	out := make([]map[string]any, 0, len(downloadArchs))
	for _, a := range downloadArchs {
		name := tarballName(a)
		b, ok := s.tarball(name)
		if !ok {
			writeError(w, http.StatusInternalServerError, "cannot build runner package")
			return
		}
		sum := sha256.Sum256(b)
		out = append(out, map[string]any{"os": "linux", "architecture": a, "filename": name,
			"download_url": base + "_sim/downloads/" + name, "sha256_checksum": hex.EncodeToString(sum[:])})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) handleTarball(w http.ResponseWriter, r *http.Request) {
	b, ok := s.tarball(r.PathValue("filename"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	_, _ = w.Write(b)
}
