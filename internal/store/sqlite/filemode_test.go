package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/paddock-ci/paddock/internal/secretbox"
)

// TestDatabaseFilesPrivate: the database and its -wal and -shm files are
// readable by their owner only, whatever the umask, and a file left
// world-readable by an older version is narrowed on open.
func TestDatabaseFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	box, err := secretbox.New(make([]byte, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "paddock.db")
	check := func() {
		t.Helper()
		st, err := Open(context.Background(), path, box)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.SetMeta(context.Background(), "k", "v"); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
			}
		}
	}
	check()
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	check()
}
