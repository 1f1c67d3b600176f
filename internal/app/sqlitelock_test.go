package app

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A lock released soon after a start begins (a crashed predecessor's
// descriptor closing) is taken; one that stays held is refused with the
// message that says what to do, after the wait.
func TestSQLiteLockWaitsForADyingHolder(t *testing.T) {
	db := filepath.Join(t.TempDir(), "paddock.db")
	first, err := lockSQLite(db)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		first.Close()
	}()
	second, err := lockSQLite(db)
	if err != nil {
		t.Fatalf("lock released 300 ms into the start was not taken: %v", err)
	}
	defer second.Close()

	old := sqliteLockWait
	sqliteLockWait = 200 * time.Millisecond
	defer func() { sqliteLockWait = old }()
	if third, err := lockSQLite(db); err == nil {
		third.Close()
		t.Fatal("a lock held throughout was taken")
	} else if !strings.Contains(err.Error(), "another paddock manager is using the SQLite store") {
		t.Fatalf("refusal: %v", err)
	}
}
