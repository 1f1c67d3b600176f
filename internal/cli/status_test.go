package cli

import "testing"

// A manager on SQLite runs alone: `paddock status` says so instead of
// printing an empty table.
func TestStatusOnSingleManager(t *testing.T) {
	e := newEnv(t)
	e.fails([]string{"status"}, "runs alone", "sqlite")
}
