package image

import (
	"fmt"
	"io"
	"strings"
)

// cpioWriter writes the "newc" cpio format the kernel unpacks as an initramfs.
// The format is a fixed ASCII header per entry; nothing in go.mod provides it,
// and it is small enough that a dependency would not pay for itself.
type cpioWriter struct {
	w     io.Writer
	n     int64 // bytes written, for 4-byte alignment
	inode int
}

func (c *cpioWriter) write(b []byte) error {
	k, err := c.w.Write(b)
	c.n += int64(k)
	return err
}

func (c *cpioWriter) pad() error {
	if r := c.n % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

// entry writes one file, directory or symlink; mode includes the type bits.
func (c *cpioWriter) entry(name string, mode uint32, body []byte) error {
	name = strings.TrimPrefix(name, "/")
	if name == "" || strings.Contains(name, "..") {
		return fmt.Errorf("cpio: bad entry name %q", name)
	}
	c.inode++
	nlink := 1
	if mode&0o170000 == modeDir {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.inode, mode, 0, 0, nlink, 0, len(body), 0, 0, 0, 0, len(name)+1, 0)
	if err := c.write([]byte(hdr + name + "\x00")); err != nil {
		return err
	}
	if err := c.pad(); err != nil {
		return err
	}
	if err := c.write(body); err != nil {
		return err
	}
	return c.pad()
}

// close writes the trailer entry that ends the archive.
func (c *cpioWriter) close() error {
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len("TRAILER!!!")+1, 0)
	if err := c.write([]byte(hdr + "TRAILER!!!\x00")); err != nil {
		return err
	}
	return c.pad()
}

const (
	modeDir  = 0o040000
	modeFile = 0o100000
	modeLink = 0o120000
)
