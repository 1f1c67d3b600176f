package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var o bench.Options
	var skip []string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Paddock on this machine: dispatch latency, webhook rate, memory, scheduler, forge calls per job",
		Long: `Runs a manager (SQLite in a temp dir) against the forge simulator with a
provider that answers at once, and prints what Paddock itself costs:

  dispatch    webhook → provider create p50/p99 in bursts of 200 and 2,000 jobs
  sustained   500 webhooks/s offered: rate answered, create p99, manager CPU per 1,000 jobs, RSS
  scale       1,000 pools and 10,000 tracked instances: manager RSS, create latency
  scheduler   one decision at 1,000 pools × 10,000 instances × 10,000 queued jobs
  calls       forge API calls per job by endpoint (demo jobs, process provider):
              GitHub webhooks, GitHub polling, Gitea, Forgejo, a scale set (long polls apart)
  warm        jobs queued on idle runners: queued → running

Each figure is checked against its target. --short (used by scripts/test)
runs smaller rows and exits non-zero when a figure is more than 3× past its
target: a regression, not noise. See docs/performance.md for how to read it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Skip = map[string]bool{}
			for _, s := range skip {
				o.Skip[s] = true
			}
			o.Progress = cmd.ErrOrStderr()
			r, err := bench.Run(ctx, o)
			if err != nil {
				return err
			}
			if out, _ := cmd.Flags().GetString("output"); out == "json" {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(r); err != nil {
					return err
				}
			} else {
				r.Print(cmd.OutOrStdout())
			}
			if o.Short {
				return r.FailError()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.Short, "short", false, "smaller rows; exit non-zero when a figure is more than 3× past its target (CI)")
	cmd.Flags().StringSliceVar(&skip, "skip", nil, "rows to leave out: dispatch, sustained, scale, scheduler, calls, warm")
	cmd.Flags().StringVar(&o.Dir, "state-dir", "", "keep the managers' state here instead of a temp dir")
	return cmd
}

// newBenchManagerCmd is the manager process `paddock bench` starts (hidden).
func newBenchManagerCmd() *cobra.Command {
	var o bench.ManagerOptions
	cmd := &cobra.Command{
		Use:    "bench-manager",
		Short:  "The manager process paddock bench drives (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunManager(cmd.Context(), o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.Config, "config", "", "config file")
	cmd.Flags().IntVar(&o.SeedPools, "seed-pools", 0, "extra pools to put in the store first")
	cmd.Flags().IntVar(&o.SeedInstances, "seed-instances", 0, "tracked instances to put in the store first")
	cmd.Flags().StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the run here")
	cmd.Flags().DurationVar(&o.JobTime, "job-time", 0, "machines fetch their config, report idle, and report done this long after (0: they never do)")
	return cmd
}
