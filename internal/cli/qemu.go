package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/provider/qemu"
	"github.com/paddock-ci/paddock/internal/scratch"
)

// newQEMURelayCmd is what QEMU runs for each guest connection to a forwarded
// host endpoint (guestfwd … cmd:paddock qemu-relay HOST:PORT).
func newQEMURelayCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "qemu-relay HOST:PORT",
		Short:  "Relay stdin/stdout to a host endpoint (run by QEMU, not by people)",
		Args:   cobra.ExactArgs(1),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return qemu.Relay(ctx, args[0], os.Stdin, os.Stdout)
		},
	}
}

// newMachineScratchCmd runs inside a VM (from the fast image's init): it
// maps the scratch disk through dm-crypt with a key made on the spot and
// prints the decrypted device's path.
func newMachineScratchCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "machine-scratch DEVICE NAME",
		Short:  "Encrypt a VM's scratch disk with a key kept only in RAM (run by the VM's init)",
		Args:   cobra.ExactArgs(2),
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			dev, err := scratch.Open(args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), dev)
			return nil
		},
	}
}
