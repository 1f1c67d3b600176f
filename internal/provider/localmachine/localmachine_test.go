package localmachine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/provider"
)

// The process and qemu providers used to accept different names (process:
// anything without a slash; qemu: up to 100 characters without ',' or
// spaces), so a name one took could break the other or a VM's host name.
func TestOneNameRule(t *testing.T) {
	for _, ok := range []string{"paddock-0a1b2c3d4e", "m", "garm-AbC123", strings.Repeat("a", 63)} {
		if err := ValidName(ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "a/b", `a\b`, "a,b", "a b", "-a", "a-", "1abc", "a_b", "a.b",
		strings.Repeat("a", 64), "a\x00"} {
		if err := ValidName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

type rec struct {
	Header
	PID int `json:"pid"`
}

func TestRecordsAreThisControllersOnly(t *testing.T) {
	dir := t.TempDir()
	mine, err := Open(dir, "c1")
	if err != nil {
		t.Fatal(err)
	}
	theirs, _ := Open(dir, "c2")
	for _, m := range []struct {
		r    *Registry
		name string
	}{{mine, "a"}, {theirs, "b"}, {mine, "c"}} {
		if err := os.Mkdir(m.r.Dir(m.name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := m.r.Write(m.name, rec{Header: m.r.NewHeader(provider.Spec{Name: m.name, PoolID: "p"}), PID: 7}); err != nil {
			t.Fatal(err)
		}
	}
	// A directory without a record (a create that crashed before writing
	// one) and a corrupt record are not listed.
	os.Mkdir(filepath.Join(dir, "d"), 0o700)
	os.Mkdir(filepath.Join(dir, "e"), 0o700)
	os.WriteFile(filepath.Join(dir, "e", recordFile), []byte("{"), 0o600)

	if names, err := mine.Names(); err != nil || strings.Join(names, ",") != "a,c" {
		t.Fatalf("names = %v, %v", names, err)
	}
	var r rec
	if err := mine.Read("a", &r); err != nil || r.PID != 7 || r.PoolID != "p" || r.ControllerID != "c1" {
		t.Fatalf("read = %+v, %v", r, err)
	}
	if err := mine.Read("b", &r); !errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("another controller's record: %v", err)
	}
	if err := mine.Read("e", &r); err == nil || errors.Is(err, provider.ErrNotFound) {
		t.Fatalf("corrupt record: %v", err)
	}
}

// An unreadable state directory is an error, not an empty list.
func TestUnreadableStateDirIsAnError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	r, err := Open(dir, "c1")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(dir)
	os.WriteFile(dir, nil, 0o600)
	if ms, err := (Machines[rec]{Reg: r, Machine: func(rec) provider.Machine { return provider.Machine{} }}).List(context.Background()); err == nil {
		t.Fatalf("list of an unreadable state dir = %v, nil", ms)
	}
	if _, err := Open("", "c"); err == nil {
		t.Fatal("empty state dir accepted")
	}
}

// Remove moves the directory away before removing it: a process a crashed
// Create started can no longer create files at the paths it was given, and
// settle sees what it did create before. A leftover of a Remove cut short is
// never listed, and goes with the next Remove of that name.
func TestRemoveMovesTheDirectoryAwayFirst(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir, "c1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", ".removing-a"} {
		os.Mkdir(filepath.Join(dir, n), 0o700)
		if err := r.Write(n, rec{Header: r.NewHeader(provider.Spec{Name: n})}); err != nil {
			t.Fatal(err)
		}
	}
	if names, err := r.Names(); err != nil || strings.Join(names, ",") != "a" {
		t.Fatalf("names = %v, %v; want only a", names, err)
	}
	os.WriteFile(filepath.Join(r.Dir("a"), "qemu.pid"), []byte("1\n"), 0o600)
	var saw bool
	err = r.Remove("a", func(moved string) error {
		_, err := os.Stat(filepath.Join(moved, "qemu.pid"))
		saw = err == nil
		if err := os.WriteFile(filepath.Join(r.Dir("a"), "late.pid"), nil, 0o600); err == nil {
			t.Error("a late process could still write into the machine's directory")
		}
		return nil
	})
	if err != nil || !saw {
		t.Fatalf("remove = %v, settle saw the moved pidfile: %v", err, saw)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("left in the state dir: %v", entries)
	}
	if err := r.Remove("a", nil); err != nil {
		t.Fatalf("remove of a gone machine: %v", err)
	}
}
