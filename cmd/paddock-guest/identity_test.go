package main

import (
	"strings"
	"testing"
)

func TestParseIdentity(t *testing.T) {
	good := "PADDOCK_INSTANCE_NAME=vm-1\nPADDOCK_METADATA_URL=http://10.0.2.100:1/m\nPADDOCK_CALLBACK_URL=http://10.0.2.100:1/c\nPADDOCK_INSTANCE_TOKEN=tok\nPADDOCK_ENTROPY=" + strings.Repeat("ab", 64) + "\nEND\n"
	id, err := parseIdentity(strings.NewReader(good))
	if err != nil || id["PADDOCK_INSTANCE_TOKEN"] != "tok" || id["PADDOCK_INSTANCE_NAME"] != "vm-1" {
		t.Fatalf("parse = %v, %v", id, err)
	}
	for name, bad := range map[string]string{
		"no END":        strings.TrimSuffix(good, "END\n"),
		"unknown key":   "PATH=/evil\n" + good,
		"twice":         "PADDOCK_INSTANCE_TOKEN=a\n" + good,
		"no token":      strings.Replace(good, "PADDOCK_INSTANCE_TOKEN=tok\n", "", 1),
		"no entropy":    strings.Replace(good, "PADDOCK_ENTROPY="+strings.Repeat("ab", 64)+"\n", "", 1),
		"not key=value": "garbage\n" + good,
		"too long":      "PADDOCK_INSTANCE_NAME=" + strings.Repeat("x", identityMax) + "\nEND\n",
	} {
		if _, err := parseIdentity(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Every value is checked before the first is applied (these cases must
// fail before the clock is set: the test may run as root on a host).
func TestApplyIdentityRefusesBadValues(t *testing.T) {
	for name, id := range map[string]map[string]string{
		"bad time":      {"PADDOCK_TIME_NS": "soon", "PADDOCK_ENTROPY": strings.Repeat("ab", 64)},
		"short entropy": {"PADDOCK_TIME_NS": "1700000000000000000", "PADDOCK_ENTROPY": "abcd"},
		"bad entropy":   {"PADDOCK_TIME_NS": "1700000000000000000", "PADDOCK_ENTROPY": strings.Repeat("zz", 64)},
	} {
		if err := applyIdentity(id, &strings.Builder{}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
