package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/paddock-ci/paddock/internal/app"
	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/provider/external"
	"github.com/paddock-ci/paddock/internal/provider/process"
)

// providerExecConfig is the file named by GARM_PROVIDER_CONFIG_FILE (YAML or JSON).
type providerExecConfig struct {
	StateDir    string   `yaml:"state_dir"`
	BootCommand []string `yaml:"boot_command"`
}

// defaultPath is what machines get when the manager passed no PATH (GARM
// and Paddock both start provider executables with an empty environment).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func newProviderExecCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "provider-exec process|qemu|kubernetes",
		Short: "Run one of Paddock's providers as a GARM-protocol provider executable",
		Long: `Speaks GARM's external provider protocol (v0.1.0 and v0.1.1), so GARM, Paddock's
own "external" provider, or any manager that runs such executables can use
Paddock's providers. The command comes from GARM_COMMAND; the other settings
from the GARM_* environment and the file named by GARM_PROVIDER_CONFIG_FILE:

  state_dir: /var/lib/paddock-provider   # required
  boot_command: [/usr/bin/paddock, machine-boot]   # default: this binary

For qemu and kubernetes the file is a state_dir plus exactly one provider
block written as in paddock.yaml, checked as strictly:

  state_dir: /var/lib/paddock-provider
  providers:
    - name: vms
      type: qemu
      qemu: {accel: auto, cpu: 2, memory_mb: 2048}

Managers run provider executables with no arguments, so point them at a
two-line wrapper:

  #!/bin/sh
  exec /usr/bin/paddock provider-exec process

Machines run "paddock machine-boot" with the bootstrap's metadata URL,
callback URL and instance token. Exit codes: 0 ok, 30 not found, 1 error.`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"process", "qemu", "kubernetes"},
		RunE: func(cmd *cobra.Command, args []string) error {
			var srv *external.Server
			var err error
			switch args[0] {
			case "process":
				srv, err = processServer()
			case "qemu", "kubernetes":
				srv, err = configuredServer(args[0], cmd.ErrOrStderr())
			default:
				return fmt.Errorf("provider %q is not available as an executable (use process, qemu or kubernetes)", args[0])
			}
			if err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "provider-exec: %v\n", err)
				os.Exit(1)
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if code := srv.Serve(ctx, os.Getenv, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()); code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
}

func processServer() (*external.Server, error) {
	path := os.Getenv("GARM_PROVIDER_CONFIG_FILE")
	if path == "" {
		return nil, errors.New("GARM_PROVIDER_CONFIG_FILE is not set: this program is run by a runner manager, not by people")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg providerExecConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("%s: %w (want state_dir and optionally boot_command)", path, err)
	}
	if cfg.StateDir == "" {
		return nil, fmt.Errorf("%s: state_dir is required", path)
	}
	controllerID := os.Getenv("GARM_CONTROLLER_ID")
	if controllerID == "" {
		return nil, errors.New("GARM_CONTROLLER_ID is not set")
	}
	if len(cfg.BootCommand) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.BootCommand = []string{self, "machine-boot"}
	}
	if os.Getenv("PATH") == "" {
		_ = os.Setenv("PATH", defaultPath)
	}
	p, err := process.New(process.Options{StateDir: cfg.StateDir, ControllerID: controllerID, Command: cfg.BootCommand})
	if err != nil {
		return nil, err
	}
	return &external.Server{Provider: p, Version: "paddock provider-exec process",
		ConfigSchema: []byte(`{"type":"object","required":["state_dir"],"additionalProperties":false,` +
			`"properties":{"state_dir":{"type":"string"},"boot_command":{"type":"array","items":{"type":"string"}}}}`)}, nil
}

// configuredServer serves a qemu or kubernetes provider built from a provider
// file (see config.LoadProviderFile) by the same factories `paddock serve` uses.
func configuredServer(kind string, logTo io.Writer) (*external.Server, error) {
	path := os.Getenv("GARM_PROVIDER_CONFIG_FILE")
	if path == "" {
		return nil, errors.New("GARM_PROVIDER_CONFIG_FILE is not set: this program is run by a runner manager, not by people")
	}
	cfg, err := config.LoadProviderFile(path)
	if err != nil {
		return nil, err
	}
	if got := cfg.Providers[0].Type; got != kind {
		return nil, fmt.Errorf("%s declares a %s provider, but this is provider-exec %s", path, got, kind)
	}
	controllerID := os.Getenv("GARM_CONTROLLER_ID")
	if controllerID == "" {
		return nil, errors.New("GARM_CONTROLLER_ID is not set")
	}
	if os.Getenv("PATH") == "" {
		_ = os.Setenv("PATH", defaultPath)
	}
	p, err := app.BuildProvider(cfg, controllerID, slog.New(slog.NewTextHandler(logTo, nil)))
	if err != nil {
		return nil, err
	}
	return &external.Server{Provider: p, Version: "paddock provider-exec " + kind}, nil
}
