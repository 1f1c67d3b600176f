package forgesim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"sort"
	"time"
)

// binaryRunScript is run.sh for a package that carries its runner program.
const binaryRunScript = "#!/bin/sh\n# Simulated GitHub Actions runner (forgesim).\nexec \"$(dirname \"$0\")/bin/paddock-simrunner\" \"$@\"\n"

// addRunnerBinaries builds the Linux packages of the architectures in
// Options.RunnerBinaries up front, in place of the RunnerCommand ones that
// tarball would build. A program that cannot be read leaves that package to
// RunnerCommand, and says so in the log.
func (s *Sim) addRunnerBinaries() {
	for arch, path := range s.opts.RunnerBinaries {
		bin, err := os.ReadFile(path)
		if err == nil {
			var b []byte
			if b, err = binaryTarball(bin); err == nil {
				s.tarballs[tarballName(arch)] = b
				continue
			}
		}
		s.opts.Logf("forgesim: runner program for %s: %v", arch, err)
	}
}

// binaryTarball is a reproducible runner package (fixed mtimes, no gzip
// timestamp) that carries the runner program bin.
func binaryTarball(bin []byte) ([]byte, error) {
	files := map[string]struct {
		mode int64
		body []byte
	}{
		"run.sh":                {0o755, []byte(binaryRunScript)},
		"bin/paddock-simrunner": {0o755, bin},
		"README.txt":            {0o644, []byte("Simulated GitHub Actions runner package served by forgesim.\n")},
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	mtime := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, n := range names {
		f := files[n]
		hdr := &tar.Header{Name: n, Mode: f.mode, Size: int64(len(f.body)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.body); err != nil {
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
