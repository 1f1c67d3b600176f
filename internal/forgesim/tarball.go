package forgesim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// downloadArchs are the Linux architectures the Gitea flavour's configured
// runner_downloads cover.
var downloadArchs = []string{"x64", "arm64"}

// simDownload is one entry of the GitHub download list.
type simDownload struct{ os, arch string }

// githubDownloads are the packages GitHub's list names, in the order the sim
// answers (linux-x64 first): actions-runner-{linux,osx}-ARCH-VERSION.tar.gz
// and actions-runner-win-ARCH-VERSION.zip.
var githubDownloads = []simDownload{
	{"linux", "x64"}, {"linux", "arm64"}, {"linux", "arm"},
	{"win", "x64"}, {"win", "arm64"},
	{"osx", "x64"}, {"osx", "arm64"},
}

func (d simDownload) filename() string {
	ext := "tar.gz"
	if d.os == "win" {
		ext = "zip"
	}
	return fmt.Sprintf("actions-runner-%s-%s-%s.%s", d.os, d.arch, runnerVersion, ext)
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
	i := slices.IndexFunc(githubDownloads, func(d simDownload) bool { return d.filename() == filename })
	if i < 0 {
		return nil, false
	}
	s.tarMu.Lock()
	defer s.tarMu.Unlock()
	if b, ok := s.tarballs[filename]; ok {
		return b, true
	}
	build := buildTarball
	if githubDownloads[i].os == "win" {
		build = buildZip
	}
	b, err := build(s.opts.RunnerCommand)
	if err != nil {
		s.opts.Logf("forgesim: building %s: %v", filename, err)
		return nil, false
	}
	s.tarballs[filename] = b
	return b, true
}

func (s *Sim) handleDownloads(w http.ResponseWriter, r *http.Request) {
	base := s.MachineURL()
	out := make([]map[string]any, 0, len(githubDownloads))
	for _, d := range githubDownloads {
		name := d.filename()
		b, ok := s.tarball(name)
		if !ok {
			writeError(w, http.StatusInternalServerError, "cannot build runner package")
			return
		}
		sum := sha256.Sum256(b)
		out = append(out, map[string]any{"os": d.os, "architecture": d.arch, "filename": name,
			"download_url": base + "_sim/downloads/" + name, "sha256_checksum": hex.EncodeToString(sum[:])})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Sim) handleTarball(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("filename")
	b, ok := s.tarball(name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	if strings.HasSuffix(name, ".zip") {
		w.Header().Set("Content-Type", "application/zip")
	}
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	_, _ = w.Write(b)
}
