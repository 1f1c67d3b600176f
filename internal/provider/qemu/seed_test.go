package qemu

import (
	"os"

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
	entries, err := fs.ReadDir("/")
	if err != nil {
		return "", nil, err
	}
	files = map[string][]byte{}
	for _, e := range entries {
		b, err := fs.ReadFile("/" + e.Name())
		if err != nil {
			return "", nil, err
		}
		files[e.Name()] = b
	}
	return fs.Label(), files, nil
}
