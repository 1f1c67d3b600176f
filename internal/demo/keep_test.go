package demo_test

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/demo"
	"github.com/paddock-ci/paddock/internal/testutil"
)

// TestDemoKeepServesTheDashboard: the demo prints the dashboard's URL and,
// with Keep, leaves the manager up after its summary until ctx ends.
func TestDemoKeepServesTheDashboard(t *testing.T) {
	self := paddockBinary(t)
	var out testutil.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := demo.Run(ctx, demo.Options{Jobs: 1, Self: self, Keep: true, JobDuration: 100 * time.Millisecond,
			Timeout: 2 * time.Minute, Out: &out})
		done <- err
	}()
	keep := regexp.MustCompile(`--keep: the manager stays up at (http://\S+/ui/)`)
	deadline := time.Now().Add(3 * time.Minute)
	var url string
	for url == "" {
		if m := keep.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("demo returned before being stopped: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no --keep line:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !regexp.MustCompile(`dashboard: http://\S+/ui/ \(sign in with this demo's admin token: [0-9a-f]{64}\)`).MatchString(out.String()) {
		t.Fatalf("dashboard line missing:\n%s", out.String())
	}
	resp, err := http.Get(url + "login")
	if err != nil {
		t.Fatalf("dashboard not served after the summary: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %slogin: %d", url, resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo after Ctrl-C: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("demo did not stop after its context ended")
	}
}
