// Command paddock-guest is the agent inside Paddock's microVMs: run by the
// fast image's init, it encrypts the scratch disk (`scratch`) and boots the
// runner (`boot`): fetch the single-use config, download and check the
// runner, start it, report status. It holds only the machine side of
// Paddock (bootstrap, machineapi, scratch) and the standard library, so the
// image stays small and the agent starts fast even under emulation; a test
// keeps it that way.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/paddock-ci/paddock/internal/bootstrap"
	"github.com/paddock-ci/paddock/internal/scratch"
)

// runnerCache is where the fast image keeps baked runner packages
// (image.RunnerCacheDir, which this program must not import; a test
// checks they agree).
const runnerCache = "/opt/paddock/runners"

const usage = "usage: paddock-guest boot | paddock-guest scratch DEVICE NAME | paddock-guest protocol"

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "paddock-guest:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) == 1 && args[0] == "boot":
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		return boot(ctx, stderr)
	case len(args) == 1 && args[0] == "protocol":
		// Also keeps bootstrap.GuestProtocol in the binary, where the
		// image builder looks for it.
		fmt.Fprintln(stdout, bootstrap.GuestProtocol)
		return nil
	case len(args) == 3 && args[0] == "scratch":
		dev, err := scratch.Open(args[1], args[2])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, dev)
		return nil
	}
	return fmt.Errorf("%s", usage)
}

// boot runs the bootstrap with the settings init exported from the VM's
// fw_cfg file and prints one timing line on the console once the runner is
// online (or the boot failed): the guest's uptime at each phase, which the
// qemu provider reads back from the console log.
func boot(ctx context.Context, log io.Writer) error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	t := &timing{w: log}
	t.stamp("agent")
	if port := os.Getenv("PADDOCK_IDENTITY_PORT"); port != "" {
		id, err := waitIdentity(port, log)
		if err != nil {
			t.print()
			return err
		}
		t.stamp("identity")
		if err := applyIdentity(id, log); err != nil {
			return err
		}
		t.stamp("seeded")
	}
	err = bootstrap.Run(ctx, bootstrap.Options{
		MetadataURL: os.Getenv("PADDOCK_METADATA_URL"),
		CallbackURL: os.Getenv("PADDOCK_CALLBACK_URL"),
		Token:       os.Getenv("PADDOCK_INSTANCE_TOKEN"),
		Dir:         dir,
		Log:         log,
		ToolCache:   runnerCache,
		Phase: func(name string) {
			t.stamp(name)
			if name == bootstrap.PhaseOnline {
				t.print()
			}
		},
	})
	t.print()
	return err
}

// timing collects uptime stamps. init passes its own as PADDOCK_TIMING
// ("init=1.23 net=1.40"), so the line covers the whole boot.
type timing struct {
	w       io.Writer
	mu      sync.Mutex
	stamps  []string
	printed bool
}

func (t *timing) stamp(name string) {
	up, err := uptime()
	if err != nil {
		return
	}
	t.mu.Lock()
	t.stamps = append(t.stamps, name+"="+up)
	t.mu.Unlock()
}

// print writes the timing line once.
func (t *timing) print() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.printed {
		return
	}
	t.printed = true
	fields := append(strings.Fields(os.Getenv("PADDOCK_TIMING")), t.stamps...)
	fmt.Fprintf(t.w, "paddock-guest: timing %s\n", strings.Join(fields, " "))
}

// uptime is the first field of /proc/uptime: seconds since the kernel started.
func uptime() (string, error) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return "", err
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "", fmt.Errorf("empty /proc/uptime")
	}
	if _, err := strconv.ParseFloat(f[0], 64); err != nil {
		return "", err
	}
	return f[0], nil
}
