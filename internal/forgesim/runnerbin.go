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
// tarball and giteaTarball would build: GitHub's with run.sh and the
// program, Gitea's and Forgejo's with the program as act_runner or
// forgejo-runner. A program that cannot be read leaves that package to
// RunnerCommand, and says so in the log.
func (s *Sim) addRunnerBinaries() {
	for arch, path := range s.opts.RunnerBinaries {
		bin, err := os.ReadFile(path)
		if err == nil {
			var gh, gt []byte
			gh, err = binaryTarball(map[string]tarFile{
				"run.sh":                {0o755, []byte(binaryRunScript)},
				"bin/paddock-simrunner": {0o755, bin},
				"README.txt":            {0o644, []byte("Simulated GitHub Actions runner package served by forgesim.\n")},
			})
			if err == nil {
				gt, err = binaryTarball(map[string]tarFile{s.giteaRunnerProgram(): {0o755, bin}})
			}
			if err == nil {
				s.tarballs[linuxPackage(arch)], s.tarballs[s.giteaTarballName(arch)] = gh, gt
				continue
			}
		}
		s.opts.Logf("forgesim: runner program for %s: %v", arch, err)
	}
}

// RunnerPackage returns the GitHub-flavoured Linux runner package for arch
// (x64, arm64) as its download URL serves it, and its file name.
func (s *Sim) RunnerPackage(arch string) (string, []byte, bool) {
	name := linuxPackage(arch)
	b, ok := s.tarball(name)
	return name, b, ok
}

type tarFile struct {
	mode int64
	body []byte
}

// binaryTarball is a reproducible package (fixed mtimes, no gzip
// timestamp) of files.
func binaryTarball(files map[string]tarFile) ([]byte, error) {
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

// linuxPackage is the file name of GitHub's Linux runner package for arch.
func linuxPackage(arch string) string { return simDownload{"linux", arch}.filename() }
