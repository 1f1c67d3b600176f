package bootstrap

import (
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cachedTools installs the runner from a package that was unpacked into the
// machine's image when the image was built, under cache/SHA256 (the sha256
// of the package file, checked then): the forge publishing that very sha256
// means the same package, so nothing is downloaded. It reports whether
// there was one. Files are hard-linked (copied across file systems): the
// machine is single-use, so the image's copy is not needed afterwards.
func cachedTools(cache, sum, dir string) (bool, error) {
	b, err := hex.DecodeString(sum)
	if cache == "" || err != nil || len(b) != 32 {
		return false, nil // not a sha256: never a path
	}
	src := filepath.Join(cache, strings.ToLower(sum))
	if st, err := os.Stat(src); err != nil || !st.IsDir() {
		return false, nil
	}
	return true, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dir, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			if os.Link(p, target) == nil {
				return nil
			}
			return copyFile(p, target)
		}
		return nil // the image holds files and directories only
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
