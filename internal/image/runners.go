package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// RunnerCacheDir is where the image holds runner packages unpacked at build
// time, one directory per package named by the sha256 of the package file.
// paddock-guest passes the same path to the bootstrap, which uses a
// package from here when the forge publishes its sha256.
const RunnerCacheDir = "opt/paddock/runners"

// runnerFile is one file of a baked runner package.
type runnerFile struct {
	name string // path in the image
	mode uint32
	body []byte
}

// runnerPackage reads a runner package (GitHub's .tar.gz) and returns its
// sha256 and its regular files and directories laid out under
// RunnerCacheDir. Links and devices are left out, as the bootstrap's own
// unpacking does.
func runnerPackage(file string) (string, []runnerFile, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", nil, err
	}
	s := sha256.Sum256(b)
	sum := hex.EncodeToString(s[:])
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return "", nil, fmt.Errorf("runner package %s: %w (want a .tar.gz such as GitHub's actions-runner-linux-ARCH)", file, err)
	}
	root := RunnerCacheDir + "/" + sum
	out := []runnerFile{{name: root, mode: modeDir | 0o755}}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return sum, out, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("runner package %s: %w", file, err)
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" {
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			out = append(out, runnerFile{name: root + "/" + name, mode: modeDir | 0o755})
		case tar.TypeReg:
			body, err := io.ReadAll(tr)
			if err != nil {
				return "", nil, fmt.Errorf("runner package %s: %w", file, err)
			}
			out = append(out, runnerFile{name: root + "/" + name, mode: modeFile | uint32(hdr.Mode)&0o755 | 0o600, body: body})
		}
	}
}
