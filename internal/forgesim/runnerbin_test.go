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
		b, ok := s.tarball(linuxPackage(arch))
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
	// The Gitea flavour's package is the program itself as act_runner.
	g := New(Options{Flavor: FlavorGitea, RunnerBinaries: map[string]string{"arm64": bin}})
	gb, ok := g.giteaTarball(g.giteaTarballName("arm64"))
	if !ok {
		t.Fatal("no gitea arm64 package")
	}
	zr, err := gzip.NewReader(bytes.NewReader(gb))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	if err != nil || h.Name != g.giteaRunnerProgram() {
		t.Fatalf("gitea package entry %v, %v", h, err)
	}
	if body, _ := io.ReadAll(tr); string(body) != "ARM64 PROGRAM" {
		t.Fatalf("gitea package holds %q", body)
	}
	x := files("x64")
	if _, ok := x["bin/paddock-simrunner"]; ok || x["run.sh"] != RunScript([]string{"/host/paddock", "agent"}) {
		t.Fatalf("x64 package: %v", x)
	}
}
