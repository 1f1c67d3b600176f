package demo_test

import (
	"bytes"
	"context"
	"fmt"
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
	for _, want := range []string{"(1.00 forge mint calls per machine)", "within one machine turnover"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("output lacks %q:\n%s", want, out.String())
		}
	}
	// The 4 first warm machines are bound late; a machine that replaces a
	// finished one may also come up before a job is queued and wait
	// unbound, so more than 4 may be bound — never fewer, and every bound
	// machine's job must run on it.
	var bound, ran int
	i := strings.Index(out.String(), "Late binding:")
	if i < 0 {
		t.Fatalf("output lacks the late binding summary:\n%s", out.String())
	}
	if _, err := fmt.Sscanf(out.String()[i:], "Late binding: %d warm machines bound to a job when it was queued; %d of their jobs ran on them", &bound, &ran); err != nil {
		t.Fatalf("late binding summary unreadable: %v\n%s", err, out.String())
	}
	if bound < 4 || ran != bound {
		t.Fatalf("late binding: %d bound, %d ran on them; want ≥ 4 bound, all of them run:\n%s", bound, ran, out.String())
	}
	t.Logf("%s", out.String()[i:])
}
