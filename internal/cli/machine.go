package cli

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/agent"
	"github.com/paddock-ci/paddock/internal/bootstrap"
)

func newMachineBootCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "machine-boot",
		Short: "Boot a runner on this machine (run by providers, not by people)",
		Long: `Runs first on a machine Paddock created: fetches the machine's single-use runner
config with PADDOCK_INSTANCE_TOKEN from PADDOCK_METADATA_URL, downloads and
checks the runner tools, starts run.sh --jitconfig and reports progress to
PADDOCK_CALLBACK_URL.`,
		Args:   cobra.NoArgs,
		Hidden: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return bootstrap.Main(ctx, cmd.ErrOrStderr())
		},
	}
}

func newAgentCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "agent --jitconfig CONFIG",
		Short: "Simulated runner for the forge simulator (takes a JIT config, runs one job, exits)",
		Long: `The simulated runner that paddock sim and paddock demo hand out in their runner
package: it connects with a just-in-time config (which works once), runs
exactly one job and exits, like an ephemeral GitHub Actions runner.`,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			var err error
			if agent.IsGiteaInvocation(args) {
				// act_runner/forgejo-runner stand-in: reads .runner in the working directory.
				err = agent.RunGitea(ctx, args, ".", cmd.OutOrStdout())
			} else {
				var jit string
				if jit, err = agent.ParseArgs(args); err != nil {
					return err
				}
				err = agent.Run(ctx, jit, cmd.OutOrStdout())
			}
			if errors.Is(err, agent.ErrRemoved) {
				return nil // removed while idle: a normal scale-down, not a failure
			}
			return err
		},
	}
}
