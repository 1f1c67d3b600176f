package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/forgesim"
)

func newSimCmd() *cobra.Command {
	var listen, hookURL, secretEnv string
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run the GitHub simulator (REST API, signed webhooks, simulated runners)",
		Long: `Runs the forge simulator on its own, for trying Paddock against something that
behaves like GitHub. Queue jobs with POST /_sim/jobs {"repo":"o/r","labels":[...]},
read counters at GET /_sim/stats, inject faults with PUT /_sim/faults.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			secret := os.Getenv(secretEnv)
			if hookURL != "" && secret == "" {
				return fmt.Errorf("--webhook-url needs a secret: set %s", secretEnv)
			}
			sim := forgesim.New(forgesim.Options{WebhookURL: hookURL, WebhookSecret: secret,
				RunnerCommand: []string{exe, "agent"}})
			if err := sim.Start(listen); err != nil {
				return err
			}
			defer sim.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "GitHub simulator at %s (webhooks → %s)\n", sim.URL(), hookURL)
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9090", "address to listen on")
	cmd.Flags().StringVar(&hookURL, "webhook-url", "", "where to deliver workflow_job webhooks (e.g. http://127.0.0.1:8080/webhooks/github)")
	cmd.Flags().StringVar(&secretEnv, "webhook-secret-env", "PADDOCK_SIM_WEBHOOK_SECRET", "environment variable holding the webhook secret")
	return cmd
}
