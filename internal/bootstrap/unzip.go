package bootstrap

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// zipMagic starts every zip archive with at least one entry.
const zipMagic = "PK\x03\x04"

// unzip extracts a runner package that passed its sha256 check into dir,
// refusing entries that would land outside it. Only files and directories
// are extracted, as in untar.
func unzip(f *os.File, dir string) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zr, err := zip.NewReader(f, st.Size())
	if err != nil {
		return fmt.Errorf("runner package: %w", err)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for _, zf := range zr.File {
		name := strings.ReplaceAll(zf.Name, `\`, "/")
		target := filepath.Join(root, filepath.Clean("/"+name))
		if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
			return fmt.Errorf("runner package: entry %q escapes the target directory", zf.Name)
		}
		mode := zf.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := unzipFile(zf, target); err != nil {
				return err
			}
		}
	}
	return nil
}

func unzipFile(zf *zip.File, target string) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("runner package: %w", err)
	}
	defer rc.Close()
	// Zips made on Windows carry no Unix mode; scripts must still run.
	perm := zf.Mode().Perm()&0o755 | 0o600
	if perm&0o100 == 0 && (strings.HasSuffix(target, ".sh") || strings.HasSuffix(target, ".cmd")) {
		perm |= 0o111
	}
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, rc); err != nil {
		out.Close()
		return fmt.Errorf("runner package: %w", err)
	}
	return out.Close()
}
