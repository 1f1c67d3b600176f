package demo_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/demo"
)

// TestDemoEvery: --every queues a steady stream, one job per interval, not a
// burst; the run cannot end before the last job was queued.
func TestDemoEvery(t *testing.T) {
	self := paddockBinary(t)
	var out, log bytes.Buffer
	sum, err := demo.Run(context.Background(), demo.Options{Jobs: 3, Every: 500 * time.Millisecond, Self: self,
		JobDuration: 100 * time.Millisecond, Timeout: 2 * time.Minute, Out: &out, Log: &log})
	if err != nil {
		t.Fatalf("demo --every: %v\n%s\nmanager log:\n%s", err, out.String(), log.String())
	}
	if !sum.OK() || sum.Completed != 3 || sum.Elapsed < time.Second {
		t.Fatalf("summary %+v: want 3 jobs over at least 1 s", sum)
	}
	for _, bad := range []demo.Options{{Jobs: 1, Every: -time.Second}, {Jobs: 4, Every: time.Second, Tenants: 2}} {
		bad.Self = "/bin/true"
		if _, err := demo.Run(context.Background(), bad); err == nil || !strings.Contains(err.Error(), "--every") {
			t.Errorf("demo with every=%s tenants=%d: err %v, want one naming --every", bad.Every, bad.Tenants, err)
		}
	}
}
