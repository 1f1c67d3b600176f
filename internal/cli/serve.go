package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
)

func newServeCmd() *cobra.Command {
	var path string
	var debug bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Paddock manager (API, webhooks, controller)",
		Long: `Run the Paddock manager with the given config file: the REST API, the webhook
endpoints, the machine metadata endpoints and the controller loop.

The config is checked strictly before anything starts; every problem is
reported at once with its line. See paddock.example.yaml.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(path)
			if err != nil {
				return fmt.Errorf("%w\n\nfix the config and run again (example: paddock.example.yaml)", err)
			}
			level := slog.LevelInfo
			if debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: boundLogValue}))
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a, err := app.New(ctx, cfg, app.Options{Logger: log})
			if err != nil {
				return err
			}
			return a.Run(ctx)
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "paddock.yaml", "config file")
	cmd.Flags().BoolVar(&debug, "debug", false, "debug logging")
	return cmd
}
