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
	var dir, guest, kernelPkg, arch, compression string
	var runners []string
	build := &cobra.Command{
		Use:   "build",
		Short: "Build the fast image (Debian kernel + initramfs with busybox and paddock-guest)",
		Long: `Builds the qemu provider's fast image for one guest architecture (--arch amd64
or arm64): the kernel from Debian's linux-image-ARCH package and an initramfs with
busybox-static, the small paddock-guest agent and a tiny init that brings up the
network, runs the machine bootstrap and powers off. Packages are fetched with
apt-get download (run apt-get update first; for arm64 on an amd64 host also
dpkg --add-architecture arm64) and never installed. The build is cached:
running it again with the same inputs is instant.

paddock-guest is built from Paddock's source tree, static and for the guest's
architecture:
  CGO_ENABLED=0 GOARCH=arm64 go build -trimpath -ldflags "-s -w" -o paddock-guest-arm64 ./cmd/paddock-guest
By default it is looked for beside this paddock binary as paddock-guest-ARCH.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if guest == "" {
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				if guest, err = image.FindGuest(image.DefaultGuest(exe, arch), arch); err != nil {
					return err
				}
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			img, err := image.Build(ctx, image.Options{Dir: dir, Guest: guest, Arch: arch, KernelPackage: kernelPkg,
				Compression: compression, RunnerPackages: runners, Logf: func(f string, a ...any) { fmt.Fprintf(out, f+"\n", a...) }})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "kernel %s\ninitrd %s\n", img.Kernel, img.Initrd)
			return nil
		},
	}
	build.Flags().StringVar(&dir, "dir", image.DefaultDir(config.DefaultStateDir), "image directory (the qemu provider's image_dir)")
	build.Flags().StringVar(&arch, "arch", "amd64", "guest architecture: amd64 or arm64")
	build.Flags().StringVar(&guest, "guest", "", "static paddock-guest binary for --arch (default: paddock-guest-ARCH beside this binary)")
	build.Flags().StringVar(&kernelPkg, "kernel-package", "", "Debian kernel package (default: what linux-image-ARCH depends on)")
	build.Flags().StringVar(&compression, "compression", "none", "initramfs compression: none or gzip")
	build.Flags().StringArrayVar(&runners, "runner-package", nil, "runner package (.tar.gz, e.g. GitHub's actions-runner-linux-ARCH) to bake into the image; VMs whose forge publishes its sha256 skip the download (repeatable)")
	cmd.AddCommand(build)
	return cmd
}
