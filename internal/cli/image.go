package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/image"
)

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "image", Short: "Build the VM images the qemu provider boots"}
	var dir, self, kernelPkg string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build the fast image (Debian kernel + initramfs with busybox and paddock)",
		Long: `Builds the qemu provider's fast image: the kernel from Debian's linux-image-*-amd64
package and an initramfs with busybox, this paddock binary and a tiny init that
brings up the network, runs the machine bootstrap and powers off. Packages are
fetched with apt-get download (run apt-get update first) and never installed.
The build is cached: running it again with the same inputs is instant.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if self == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				self = exe
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			img, err := image.Build(ctx, image.Options{Dir: dir, Paddock: self, KernelPackage: kernelPkg,
				Logf: func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) }})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "kernel %s\ninitrd %s\n", img.Kernel, img.Initrd)
			return nil
		},
	}
	build.Flags().StringVar(&dir, "dir", image.DefaultDir(config.DefaultStateDir), "image directory (the qemu provider's image_dir)")
	build.Flags().StringVar(&self, "paddock", "", "static paddock binary to put in the image (default: this one)")
	build.Flags().StringVar(&kernelPkg, "kernel-package", "", "Debian kernel package (default: what linux-image-amd64 depends on)")
	cmd.AddCommand(build)
	return cmd
}
