package qemu

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// seedLabel is the volume label cloud-init's NoCloud data source looks for.
const seedLabel = "cidata"

// seedBootFile is the seed's file holding the boot settings with the
// instance token. cloud-init copies only user-data, meta-data and friends
// into /var/lib/cloud (which lives on the overlay, on host disk); this file
// it never reads, so the token stays in the seed, and the user-data's
// bootstrap copies it from the seed into RAM (/run).
const seedBootFile = "paddock-boot.env"

// writeSeed writes a NoCloud seed: an ISO 9660 volume labelled cidata with
// the given files. Rock Ridge keeps names such as "user-data" intact (plain
// ISO 9660 allows neither lower case nor '-'). go-diskfs stages the files in
// a workspace directory before Finalize lays out the image; that directory
// is made beside the seed (inside the 0700 instance directory) and removed.
func writeSeed(path string, files map[string][]byte) error {
	work, err := os.MkdirTemp(filepath.Dir(path), "seed-work-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	var size int64 = 1 << 20 // generous for a few KB of text; the tail stays sparse
	for _, b := range files {
		size += int64(len(b)) + 4096
	}
	store, err := file.CreateFromPath(path, size)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	defer store.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return err
	}
	fs, err := iso9660.Create(store, size, 0, 2048, work)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	for name, b := range files {
		f, err := fs.OpenFile("/"+name, os.O_CREATE|os.O_RDWR)
		if err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
		_, werr := f.Write(b)
		cerr := f.Close()
		if err := cmpErr(werr, cerr); err != nil {
			return fmt.Errorf("seed %s: %w", name, err)
		}
	}
	if err := fs.Finalize(iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: seedLabel}); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
