package demo_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paddock-ci/paddock/internal/demo"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// paddockBinary builds the paddock binary once: machines run its
// machine-boot and the sim's runner package execs its agent.
func paddockBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paddock-demo-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "paddock")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/paddock").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build paddock: %v", buildErr)
	}
	return binPath
}

// TestDemoGiteaAndForgejo runs the one-command demo end to end against the
// sim playing Gitea and Forgejo: webhooks, runner registration on the
// manager, .runner handed to process machines, act_runner/forgejo-runner
// stand-ins taking one job each, teardown with no leaks.
func TestDemoGiteaAndForgejo(t *testing.T) {
	self := paddockBinary(t)
	for _, fg := range []string{"gitea", "forgejo"} {
		t.Run(fg, func(t *testing.T) {
			var out, log bytes.Buffer
			sum, err := demo.Run(context.Background(), demo.Options{Jobs: 4, Forge: fg, Self: self,
				JobDuration: 200 * time.Millisecond, Timeout: 2 * time.Minute, Out: &out, Log: &log})
			if err != nil {
				t.Fatalf("demo --forge %s: %v\n%s\nmanager log:\n%s", fg, err, out.String(), log.String())
			}
			if !sum.OK() || sum.Completed != 4 || sum.LeakedRunners != 0 {
				t.Fatalf("summary %+v", sum)
			}
			// Budget: version and token once, start-up reconcile, then per
			// machine Register plus at most a busy check and a delete
			// (Forgejo keeps done runners; warm idle ones are deleted too).
			limit := 4 + 3*sum.MachinesCreated
			if fg == "forgejo" {
				// Forgejo sends no workflow_job webhooks: its repository is
				// polled once per push delivery and steadily every 5 s.
				limit += sum.Webhooks + int(sum.Elapsed/(5*time.Second)) + 1
			}
			if sum.ForgeAPICalls > limit {
				t.Fatalf("%d forge API calls for %d machines; budget %d", sum.ForgeAPICalls, sum.MachinesCreated, limit)
			}
			t.Logf("%s: %d jobs, %d machines, %d forge API calls (%.1f per job), %d webhooks", fg, sum.Jobs,
				sum.MachinesCreated, sum.ForgeAPICalls, float64(sum.ForgeAPICalls)/float64(sum.Jobs), sum.Webhooks)
			if strings.Contains(log.String(), "registration token") && strings.Contains(log.String(), "level=ERROR") {
				t.Fatalf("manager logged registration errors:\n%s", log.String())
			}
		})
	}
}

func TestDemoRejectsUnknownForge(t *testing.T) {
	_, err := demo.Run(context.Background(), demo.Options{Jobs: 1, Forge: "gitlab", Self: "/bin/true"})
	if err == nil || !strings.Contains(err.Error(), "gitlab") {
		t.Fatalf("err = %v", err)
	}
}

// TestDemoForgejoPolling: no webhooks at all; Forgejo's job search is asked
// with the pools' runner labels and every job is found and run.
func TestDemoForgejoPolling(t *testing.T) {
	self := paddockBinary(t)
	var out, log bytes.Buffer
	sum, err := demo.Run(context.Background(), demo.Options{Jobs: 4, Forge: "forgejo", Intake: "poll", Self: self,
		JobDuration: 200 * time.Millisecond, Timeout: 2 * time.Minute, Out: &out, Log: &log})
	if err != nil || !sum.OK() || sum.Webhooks != 0 {
		t.Fatalf("demo --forge forgejo --intake poll: %v %+v\n%s\nmanager log:\n%s", err, sum, out.String(), log.String())
	}
}
