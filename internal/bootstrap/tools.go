package bootstrap

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// fetchTools downloads the runner package, refuses it unless its sha256
// matches what the forge published, and unpacks it into dir. A download
// that is not gzip (act_runner and forgejo-runner ship bare binaries) is
// installed as dir/binName when binName is set.
func fetchTools(ctx context.Context, client *http.Client, url, sum, dir, binName string) error {
	if url == "" || sum == "" {
		return fmt.Errorf("runner tools: download URL and sha256 are required")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("download runner: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("download runner: %s", resp.Status)
	}
	tmp, err := os.CreateTemp("", "runner-*.pkg")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(tmp, h), resp.Body); err != nil {
		return fmt.Errorf("download runner: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); !strings.EqualFold(got, sum) {
		return fmt.Errorf("runner package sha256 %s does not match the published %s: refusing to run it", got, sum)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	magic := make([]byte, 4)
	n, _ := io.ReadFull(tmp, magic)
	switch {
	case n == 4 && string(magic) == zipMagic:
		// GitHub ships its Windows runner as a .zip.
		return unzip(tmp, dir)
	case binName != "" && (n < 2 || magic[0] != 0x1f || magic[1] != 0x8b):
		return installBinary(tmp, filepath.Join(dir, binName))
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	return untar(tmp, dir)
}

func installBinary(f *os.File, target string) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, f); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func untar(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("runner package: %w", err)
	}
	tr := tar.NewReader(gz)
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("runner package: %w", err)
		}
		target := filepath.Join(root, filepath.Clean("/"+hdr.Name))
		if target != root && !strings.HasPrefix(target, root+string(filepath.Separator)) {
			return fmt.Errorf("runner package: entry %q escapes the target directory", hdr.Name)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(hdr.Mode)&0o755|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return err
			}
		default:
			// Links and devices are not needed by the runner package; skipping them
			// keeps a hostile archive from pointing outside the directory.
		}
	}
}
