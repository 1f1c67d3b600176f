package bootstrap

import (
	"archive/zip"
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func zipball(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func serveBytes(t *testing.T, b []byte) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(b) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/actions-runner-win-x64-2.328.0.zip"
}

// TestFetchToolsUnpacksZip: GitHub's Windows runner is a .zip; it is
// unpacked (with subdirectories, Windows separators included) once its
// sha256 matches.
func TestFetchToolsUnpacksZip(t *testing.T) {
	pkg := zipball(t, map[string]string{"run.cmd": "@echo off\r\n", `bin\Runner.Listener.exe`: "MZ", "run.sh": "#!/bin/sh\n"})
	dir := t.TempDir()
	if err := fetchTools(context.Background(), http.DefaultClient, serveBytes(t, pkg), strings.ToUpper(sum(pkg)), dir, ""); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"run.cmd": "@echo off\r\n", "bin/Runner.Listener.exe": "MZ"} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Fatalf("%s = %q, %v", name, got, err)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "run.sh")); err != nil || st.Mode().Perm()&0o100 == 0 {
		t.Fatalf("run.sh from a zip without Unix modes: %v %v, want executable", st.Mode(), err)
	}
}

// TestFetchToolsChecksZipBeforeUnpacking: a zip whose sha256 differs from
// the published one is refused and nothing of it is written.
func TestFetchToolsChecksZipBeforeUnpacking(t *testing.T) {
	pkg := zipball(t, map[string]string{"run.cmd": "evil"})
	dir := t.TempDir()
	err := fetchTools(context.Background(), http.DefaultClient, serveBytes(t, pkg), sum([]byte("other")), dir, "")
	if err == nil || !strings.Contains(err.Error(), "refusing to run it") {
		t.Fatalf("err = %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("unpacked despite a bad checksum: %v", ents)
	}
}

// TestZipEntriesStayInTheRunnerDirectory: entries naming parent
// directories (either separator) are confined to the runner directory.
func TestZipEntriesStayInTheRunnerDirectory(t *testing.T) {
	for _, name := range []string{"../evil.cmd", `..\evil.cmd`, "a/../../evil.cmd"} {
		pkg := zipball(t, map[string]string{name: "x"})
		dir := filepath.Join(t.TempDir(), "runner")
		if err := fetchTools(context.Background(), http.DefaultClient, serveBytes(t, pkg), sum(pkg), dir, ""); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "evil.cmd")); err == nil {
			t.Fatalf("%s was written outside the runner directory", name)
		}
		if _, err := os.Stat(filepath.Join(dir, "evil.cmd")); err != nil {
			t.Fatalf("%s not confined to the runner directory: %v", name, err)
		}
	}
}
