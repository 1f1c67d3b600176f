package forgesim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/paddock-ci/paddock/internal/forge"
)

// giteaRunnerProgram is the runner program of the sim's flavor.
func (s *Sim) giteaRunnerProgram() string {
	if s.gt != nil && s.gt.flavor == FlavorForgejo {
		return "forgejo-runner"
	}
	return "act_runner"
}

func (s *Sim) giteaTarballName(arch string) string {
	return fmt.Sprintf("%s-sim-linux-%s.tar.gz", s.giteaRunnerProgram(), arch)
}

// giteaTarball builds (once) a package holding the runner program: a script
// that execs RunnerCommand with the program's own arguments, so
// `act_runner daemon --once` becomes `paddock agent daemon --once`.
func (s *Sim) giteaTarball(filename string) ([]byte, bool) {
	known := false
	for _, a := range downloadArchs {
		known = known || filename == s.giteaTarballName(a)
	}
	if !known {
		return nil, false
	}
	s.tarMu.Lock()
	defer s.tarMu.Unlock()
	if b, ok := s.tarballs[filename]; ok {
		return b, true
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	body := RunScript(s.opts.RunnerCommand)
	hdr := &tar.Header{Name: s.giteaRunnerProgram(), Mode: 0o755, Size: int64(len(body)),
		ModTime: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if tw.WriteHeader(hdr) != nil {
		return nil, false
	}
	_, _ = tw.Write([]byte(body))
	if tw.Close() != nil || gz.Close() != nil {
		return nil, false
	}
	s.tarballs[filename] = buf.Bytes()
	return buf.Bytes(), true
}

// RunnerTools lists the sim's runner packages with URL and sha256, as a
// Gitea or Forgejo forge's runner_downloads would be configured.
func (s *Sim) RunnerTools() []forge.RunnerTool {
	var out []forge.RunnerTool
	base := s.MachineURL()
	for _, a := range downloadArchs {
		name := s.giteaTarballName(a)
		b, ok := s.giteaTarball(name)
		if !ok {
			continue
		}
		sum := sha256.Sum256(b)
		out = append(out, forge.RunnerTool{OS: "linux", Architecture: a, Filename: name,
			DownloadURL: base + "_sim/gitea/downloads/" + name, SHA256: hex.EncodeToString(sum[:])})
	}
	return out
}

func (s *Sim) handleGiteaTarball(w http.ResponseWriter, r *http.Request) {
	b, ok := s.giteaTarball(r.PathValue("filename"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	_, _ = w.Write(b)
}
