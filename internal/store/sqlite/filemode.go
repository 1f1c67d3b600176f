package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// restrictFiles makes the database file private to the manager's user before
// SQLite opens it: it holds every instance token's hash, job history and
// sealed credentials. SQLite creates the -wal and -shm files with the mode of
// the database file, so they follow; copies left wider by an older version
// are narrowed too.
func restrictFiles(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite store: create %s: %w", path, err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sqlite store: %w", err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(p, st.Mode().Perm()&0o700); err != nil {
				return fmt.Errorf("sqlite store: restrict %s to its owner: %w", p, err)
			}
		}
	}
	return nil
}
