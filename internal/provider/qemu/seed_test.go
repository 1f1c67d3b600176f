package qemu

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// readSeed returns the label and files of a seed written by writeSeed; the
// tests use it to check what the guest would see.
func readSeed(path string) (label string, files map[string][]byte, err error) {
	store, err := file.OpenFromPath(path, true)
	if err != nil {
		return "", nil, err
	}
	defer store.Close()
	fi, err := os.Stat(path)
	if err != nil {
		return "", nil, err
	}
	fs, err := iso9660.Read(store, fi.Size(), 0, 2048)
	if err != nil {
		return "", nil, err
	}
	entries, err := fs.ReadDir(".")
	if err != nil {
		return "", nil, err
	}
	files = map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile(e.Name())
		if err != nil {
			return "", nil, err
		}
		files[e.Name()] = b
	}
	return fs.Label(), files, nil
}

func TestSeedISORoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.iso")
	files := map[string][]byte{"user-data": []byte("#cloud-config\n{}\n"), "meta-data": []byte("instance-id: m1\n"), seedBootFile: []byte("BEARER_TOKEN='t'\n")}
	if err := writeSeed(path, files); err != nil {
		t.Fatal(err)
	}
	label, got, err := readSeed(path)
	if err != nil {
		t.Fatal(err)
	}
	// go-diskfs pads the identifier with NULs, which C readers end the string at.
	if label = strings.TrimRight(label, "\x00 "); label != seedLabel {
		t.Errorf("volume label %q, want %s (cloud-init's NoCloud looks for it)", label, seedLabel)
	}
	// blkid (util-linux, essential on Debian) is what udev and cloud-init use to find the seed.
	if out, err := exec.Command("blkid", "-p", "-o", "value", "-s", "LABEL", path).Output(); err != nil {
		t.Errorf("blkid: %v", err)
	} else if got := strings.TrimSpace(string(out)); got != seedLabel {
		t.Errorf("blkid sees label %q, want %s", got, seedLabel)
	}
	if len(got) != len(files) {
		t.Errorf("seed holds %d files, want %d: %v", len(got), len(files), got)
	}
	for name, want := range files {
		if !bytes.Equal(got[name], want) {
			t.Errorf("%s = %q, want %q (Rock Ridge must keep the name)", name, got[name], want)
		}
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("seed mode: %v %v (it holds the token)", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), "seed-work-*")); len(left) != 0 {
		t.Errorf("staging files left behind: %v", left)
	}
}
