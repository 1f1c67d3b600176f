package app

import (
	"cmp"
	"path/filepath"

	"github.com/paddock-ci/paddock/internal/config"
	"github.com/paddock-ci/paddock/internal/image"
	"github.com/paddock-ci/paddock/internal/provider"
	"github.com/paddock-ci/paddock/internal/provider/qemu"
)

func init() { providerFactories["qemu"] = newQEMUProvider }

// newQEMUProvider boots one VM per instance from the fast image that
// `paddock image build` made.
func newQEMUProvider(pc config.ProviderConfig, env ProviderEnv) (provider.Provider, error) {
	q := pc.QEMU
	if q == nil {
		q = &config.QEMUConfig{}
	}
	imageDir := cmp.Or(q.ImageDir, image.DefaultDir(env.Config.StateDir))
	if !filepath.IsAbs(imageDir) {
		imageDir = filepath.Join(env.Config.StateDir, imageDir)
	}
	relay := q.RelayCommand
	if len(relay) == 0 {
		relay = []string{env.Self, "qemu-relay"}
	}
	return qemu.New(qemu.Options{
		StateDir: filepath.Join(env.Config.StateDir, "vms", pc.Name), ControllerID: env.ControllerID,
		ImageDir: imageDir, Binary: q.Binary, BinaryArm64: q.BinaryArm64, Accel: q.Accel,
		FirmwareArm64: q.FirmwareArm64, FirmwareVarsArm64: q.FirmwareVarsArm64,
		CPU: q.CPU, MemoryMB: q.MemoryMB, MaxCPU: q.MaxCPU, MaxMemoryMB: q.MaxMemoryMB, ScratchGB: q.ScratchGB,
		RelayCommand: relay, Forward: q.Forward, Logger: env.Logger, Workspace: q.Workspace, Start: q.Start,
	})
}
