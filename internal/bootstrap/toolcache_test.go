package bootstrap

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// A runner package baked into the image under its sha256 is used when the
// forge publishes that sha256: the runner starts without a download. Any
// other sha256 (or none that is one) downloads as before.
func TestRunnerFromTheImageSkipsTheDownload(t *testing.T) {
	tb := tarball(t, map[string]string{"run.sh": "#!/bin/sh\necho from-download > where.txt\n"})
	m := newManager(t, tb, sum(tb))
	var downloads atomic.Int32
	inner := m.srv.Config.Handler
	m.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".tar.gz") {
			downloads.Add(1)
		}
		inner.ServeHTTP(w, r)
	})
	cache := t.TempDir()
	baked := filepath.Join(cache, sum(tb))
	os.MkdirAll(filepath.Join(baked, "bin"), 0o755)
	os.WriteFile(filepath.Join(baked, "run.sh"), []byte("#!/bin/sh\necho from-image > where.txt\n"), 0o755)
	os.WriteFile(filepath.Join(baked, "bin", "x"), []byte("x"), 0o644)

	dir := t.TempDir()
	o := m.opts(dir, "tok")
	o.ToolCache = cache
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "runner", "where.txt")); strings.TrimSpace(string(b)) != "from-image" || downloads.Load() != 0 {
		t.Fatalf("runner ran %q after %d downloads; want the image's, none", b, downloads.Load())
	}
	if _, err := os.Stat(filepath.Join(dir, "runner", "bin", "x")); err != nil {
		t.Fatal("the image's runner tree was not installed whole")
	}

	// Another package in the cache: the published one is downloaded.
	os.Rename(baked, filepath.Join(cache, strings.Repeat("0", 64)))
	dir = t.TempDir()
	o = m.opts(dir, "tok")
	o.ToolCache = cache
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "runner", "where.txt")); strings.TrimSpace(string(b)) != "from-download" || downloads.Load() != 1 {
		t.Fatalf("runner ran %q after %d downloads; want the download", b, downloads.Load())
	}
	// A published "sha256" that is a path is never looked up.
	os.MkdirAll(filepath.Join(cache, "..", "escape"), 0o755)
	if ok, err := cachedTools(cache, "../escape", t.TempDir()); ok || err != nil {
		t.Fatalf("a non-sha256 was used as a path: %v, %v", ok, err)
	}
}
