package controller

import (
	"strings"
	"testing"

	"github.com/paddock-ci/paddock/internal/check"
)

// check's runner prefix rule budgets for exactly the suffix newName adds.
func TestNewNameFitsThePrefixRule(t *testing.T) {
	prefix := strings.Repeat("a", check.MaxRunnerPrefixLen)
	name := newName(prefix)
	if len(name) != len(prefix)+check.InstanceSuffixLen || len(name) > check.MaxInstanceNameLen {
		t.Fatalf("newName(%d-char prefix) is %d long; check assumes a %d-char suffix within %d",
			len(prefix), len(name), check.InstanceSuffixLen, check.MaxInstanceNameLen)
	}
}
