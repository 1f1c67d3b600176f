package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/demo"
)

// TestDemoTenants runs `paddock demo --tenants 3`: tenant a's burst holds the
// shared pool, b and c queue after; fair share must start b's and c's first
// jobs within one machine turnover (the demo fails otherwise), every job
// completes and nothing leaks.
func TestDemoTenants(t *testing.T) {
	self := paddockBinary(t)
	var out, log bytes.Buffer
	sum, err := demo.Run(context.Background(), demo.Options{Jobs: 12, Tenants: 3, Self: self,
		JobDuration: time.Second, Timeout: 2 * time.Minute, Out: &out, Log: &log})
	if err != nil {
		t.Fatalf("demo --tenants 3: %v\n%s\nmanager log:\n%s", err, out.String(), log.String())
	}
	if !sum.OK() || sum.Completed != 12+2*2 {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	for _, want := range []string{"tenant-b       2         2", "tenant-c       2         2", "within one machine turnover",
		"Cost per tenant", "MACH-MIN"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("%s", out.String()[strings.Index(out.String(), "Tenants"):])
}

// TestDemoTenantsWarm runs `paddock demo --tenants 3 --warm 4`: the shared
// pool's warm machines wait unbound and are bound to the first jobs queued,
// one JIT config each; fair share and the leak check hold as without --warm.
func TestDemoTenantsWarm(t *testing.T) {
	self := paddockBinary(t)
	var out, log bytes.Buffer
	sum, err := demo.Run(context.Background(), demo.Options{Jobs: 12, Tenants: 3, Warm: 4, Self: self,
		JobDuration: time.Second, Timeout: 2 * time.Minute, Out: &out, Log: &log})
	if err != nil {
		t.Fatalf("demo --tenants 3 --warm 4: %v\n%s\nmanager log:\n%s", err, out.String(), log.String())
	}
	if !sum.OK() || sum.Completed != 12+2*2 {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	for _, want := range []string{"Late binding: 4 warm machines bound", "(1.00 forge mint calls per machine)", "within one machine turnover"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	t.Logf("%s", out.String()[strings.Index(out.String(), "Late binding"):])
}
