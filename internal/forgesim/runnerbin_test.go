package forgesim

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// A package for an architecture with a runner program carries it and its
// run.sh execs it; the other architectures keep RunnerCommand.
func TestRunnerPackageCarriesItsArchsProgram(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "runner-arm64")
	os.WriteFile(bin, []byte("ARM64 PROGRAM"), 0o755)
	s := New(Options{RunnerCommand: []string{"/host/paddock", "agent"}, RunnerBinaries: map[string]string{"arm64": bin}})
	files := func(arch string) map[string]string {
		b, ok := s.tarball(tarballName(arch))
		if !ok {
			t.Fatalf("no %s package", arch)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(tr)
			out[h.Name] = string(body)
		}
	}
	arm := files("arm64")
	if arm["bin/paddock-simrunner"] != "ARM64 PROGRAM" || arm["run.sh"] != binaryRunScript {
		t.Fatalf("arm64 package: %v", arm)
	}
	x := files("x64")
	if _, ok := x["bin/paddock-simrunner"]; ok || x["run.sh"] != RunScript([]string{"/host/paddock", "agent"}) {
		t.Fatalf("x64 package: %v", x)
	}
}
