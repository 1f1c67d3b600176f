package cli

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	var logPath string
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run jobs end to end on this machine: forge simulator + manager + local machines",
		Long: `Starts a GitHub simulator, a Paddock manager (SQLite in a temp dir) and the
process provider (or --provider qemu, lxd or external), registers a repository and two pools, queues jobs with a mix
of labels, shows progress, and prints a summary: queued→running latency, machines
created and destroyed, forge API calls, and leaks (which must be 0).

Exits 0 only if every job completed and nothing leaked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Out = cmd.OutOrStdout()
			if logPath != "" {
				f, err := os.Create(logPath)
				if err != nil {
					return err
				}
				defer f.Close()
				o.Log = f
			}
			_, err := demo.Run(ctx, o)
			return err
		},
	}
	cmd.Flags().IntVar(&o.Jobs, "jobs", 20, "number of jobs to queue")
	cmd.Flags().StringVar(&o.Forge, "forge", "github", "simulated forge: github, gitea or forgejo")
	cmd.Flags().StringVar(&o.Intake, "intake", "webhook", "how jobs reach Paddock: webhook, poll (the simulator sends no webhooks) or scaleset (a GitHub runner scale set)")
	cmd.Flags().StringVar(&o.Provider, "provider", "process", "provider for the machines (process, external, qemu or lxd: LXD containers, set up by scripts/lxd-setup)")
	cmd.Flags().StringVar(&o.Arch, "arch", "x64", "machine architecture: x64, or arm64 with --provider qemu (arm64 microVMs, emulated on other hosts)")
	cmd.Flags().StringVar(&o.QEMUStart, "start", "boot", "--provider qemu: how VMs start: boot (cold boot) or snapshot (restore a booted template, then give the VM its identity)")
	cmd.Flags().BoolVar(&o.DownloadRunner, "download-runner", false, "--provider qemu: every VM downloads the runner package instead of finding it baked into the image")
	cmd.Flags().StringVar(&o.ImageDir, "image-dir", "", "where --provider qemu builds and caches the fast VM image (default: the user cache dir)")
	cmd.Flags().StringVar(&o.ProviderExec, "provider-exec", "", "provider executable for --provider external (GARM's protocol)")
	cmd.Flags().StringVar(&o.ProviderConfig, "provider-config", "", "its config file (default: a generated one with a state_dir)")
	cmd.Flags().StringVar(&o.External.Listen, "listen", "", "--provider external: manager listen address, host:port (default 127.0.0.1:0; the simulator listens on the same host)")
	cmd.Flags().StringVar(&o.External.PublicURL, "public-url", "", "--provider external: URL machines dial to reach the manager (default http://<listen>); the simulator is announced on its host")
	cmd.Flags().StringVar(&o.External.Image, "image", "", "--provider external: the pools' image, handed to the executable as-is (e.g. ubuntu:24.04)")
	cmd.Flags().StringVar(&o.External.Flavor, "flavor", "", "--provider external: the pools' flavor (instance type, LXD profile …)")
	cmd.Flags().StringVar(&o.External.InterfaceVersion, "interface-version", "", "--provider external: auto (default: asked of the executable), v0.1.0 or v0.1.1")
	cmd.Flags().StringVar(&o.External.MachinePaddock, "machine-paddock", "", "--provider external: path of the paddock binary on the machines (default: this binary's path)")
	cmd.Flags().DurationVar(&o.Timeout, "timeout", 5*time.Minute, "give up after this long")
	cmd.Flags().DurationVar(&o.JobDuration, "job-duration", time.Second, "how long each job works")
	cmd.Flags().DurationVar(&o.Every, "every", 0, "queue one job every this long (a steady stream) instead of all at once")
	cmd.Flags().IntVar(&o.Warm, "warm", 0, "start this many idle runners (the standard pool's min_idle; with --tenants, the shared pool's warm machines, bound late to the first jobs) before queueing jobs: measures a warm start")
	cmd.Flags().IntVar(&o.Tenants, "tenants", 0, "sharing demo: this many tenants (2-26) on one shared pool of 4; tenant a queues --jobs at once, the others 2 each once a holds the pool; prints per-tenant waits and machines")
	cmd.Flags().BoolVar(&o.Settle, "settle", false, "queue jobs only once the manager's start-up forge calls are over, and count those apart")
	cmd.Flags().StringVar(&o.Dir, "state-dir", "", "keep state here instead of a temp dir")
	cmd.Flags().StringVar(&logPath, "log", "", "write the manager's log to this file")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the manager and its dashboard up after the summary until Ctrl-C")
	return cmd
}
