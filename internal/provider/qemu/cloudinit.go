package qemu

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// Workspace modes for cloud images (Options.Workspace).
const (
	// WorkspaceScratch puts the workspace (and Docker's data root) on the
	// encrypted scratch disk. It is the default for cloud images.
	WorkspaceScratch = "scratch"
	// WorkspaceTmpfs keeps the workspace in RAM: no scratch disk at all.
	WorkspaceTmpfs = "tmpfs"
)

// guestWorkspace is where the workspace is mounted in a cloud-image guest,
// the same path as in the fast image.
const guestWorkspace = "/work"

// scratchSerial names the scratch disk to the guest: virtio exposes it as
// /dev/disk/by-id/virtio-<serial>, whatever order the disks enumerate in.
const scratchSerial = "paddock-scratch"

// bootstrapScript is what cloud-init runs (runcmd, as root) in a cloud-image
// guest. It holds no secret: the boot settings, token included, are read
// from the seed volume into /run (RAM) here, because cloud-init keeps a copy
// of user-data under /var/lib/cloud, which is on the overlay on host disk.
// The one %s is the workspace mode.
const bootstrapScript = `#!/bin/bash
# Paddock bootstrap: workspace, then the runner install script; cloud-init's
# power_state powers the VM off when this returns.
set -u -o pipefail
WORKSPACE_MODE=%s
WS=` + guestWorkspace + `
log() { echo "paddock: $*" >&2; }
die() { log "$*"; exit 1; }

# Boot settings (metadata URL, callback URL, single-use token): seed -> RAM.
umask 077
mkdir -p /run/paddock/seed
SEED=$(blkid -L ` + seedLabel + ` || blkid -L CIDATA) || die "no ` + seedLabel + ` seed volume"
mount -o ro "$SEED" /run/paddock/seed || die "cannot mount the seed $SEED"
cp /run/paddock/seed/` + seedBootFile + ` /run/paddock/boot.env || die "the seed has no boot settings"
umount /run/paddock/seed
set -a
. /run/paddock/boot.env
set +a
umask 022

# Workspace: encrypted scratch disk (key from the kernel's RNG, held only by
# dm-crypt in RAM) or tmpfs. A scratch setup that fails stops here rather
# than letting a job write plain text to a host disk.
mkdir -p "$WS"
if [ "$WORKSPACE_MODE" = ` + WorkspaceScratch + ` ]; then
	DEV=/dev/disk/by-id/virtio-` + scratchSerial + `
	udevadm settle 2>/dev/null || true
	[ -b "$DEV" ] || die "scratch disk $DEV missing"
	if command -v cryptsetup >/dev/null; then
		cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 \
			--key-file /dev/urandom --keyfile-size 64 "$DEV" paddock-scratch ||
			die "cryptsetup open failed"
		mkfs.ext4 -q -F -m 0 /dev/mapper/paddock-scratch || die "mkfs on scratch failed"
		mount /dev/mapper/paddock-scratch "$WS" || die "cannot mount scratch"
	else
		# Without cryptsetup the disk stays unused: RAM leaks nothing to the host.
		log "cryptsetup is not installed in this image: workspace in RAM (tmpfs) instead"
		mount -t tmpfs -o mode=0755 paddock-work "$WS" || die "cannot mount tmpfs"
	fi
else
	mount -t tmpfs -o mode=0755 paddock-work "$WS" || die "cannot mount tmpfs"
fi

# Docker, where the image has it, keeps images and containers in the workspace.
if command -v dockerd >/dev/null; then
	if [ -s /etc/docker/daemon.json ]; then
		log "keeping the image's /etc/docker/daemon.json: Docker's data root stays where it says"
	else
		systemctl stop docker.socket docker.service 2>/dev/null
		mkdir -p /etc/docker "$WS/docker"
		printf '{"data-root": "%%s/docker"}\n' "$WS" >/etc/docker/daemon.json
		systemctl start docker.service || log "docker did not restart"
	fi
fi

# The runner: Paddock's install script (the same one GARM-style boot
# scripts run) fetches the JIT config, runs ./run.sh --jitconfig and waits.
export RUNNER_DIR="$WS/actions-runner"
cd "$WS" || die "no workspace"
curl --retry 10 --retry-delay 3 --retry-connrefused --fail -sS \
	-H "Authorization: Bearer ${BEARER_TOKEN}" -o /run/paddock/install.sh "${METADATA_URL}/install-script/" ||
	die "cannot fetch ${METADATA_URL}/install-script/"
bash /run/paddock/install.sh
RC=$?
rm -f /run/paddock/install.sh /run/paddock/boot.env
log "runner exited ($RC); powering off"
exit "$RC"
`

// cloudConfig is the #cloud-config user-data. It is marshalled with yaml.v3
// so names and the script are always quoted correctly.
type cloudConfig struct {
	WriteFiles []cloudFile  `yaml:"write_files"`
	RunCmd     [][]string   `yaml:"runcmd"`
	PowerState cloudPowerOf `yaml:"power_state"`
}

type cloudFile struct {
	Path        string `yaml:"path"`
	Owner       string `yaml:"owner"`
	Permissions string `yaml:"permissions"`
	Content     string `yaml:"content"`
}

// cloudPowerOf powers the VM off once runcmd (the runner) has returned,
// whether it succeeded or not: the VM is spent either way.
type cloudPowerOf struct {
	Mode      string `yaml:"mode"`
	Message   string `yaml:"message"`
	Timeout   int    `yaml:"timeout"`
	Condition bool   `yaml:"condition"`
}

// userData renders the #cloud-config for an instance. It carries neither
// the token nor any URL: those are in the seed's boot file only.
func userData(workspace string) ([]byte, error) {
	if workspace != WorkspaceScratch && workspace != WorkspaceTmpfs {
		return nil, fmt.Errorf("workspace %q: want %s or %s", workspace, WorkspaceScratch, WorkspaceTmpfs)
	}
	cc := cloudConfig{
		WriteFiles: []cloudFile{{Path: "/run/paddock/bootstrap.sh", Owner: "root:root", Permissions: "0700",
			Content: fmt.Sprintf(bootstrapScript, workspace)}},
		RunCmd:     [][]string{{"/bin/bash", "/run/paddock/bootstrap.sh"}},
		PowerState: cloudPowerOf{Mode: "poweroff", Message: "paddock: runner exited", Timeout: 30, Condition: true},
	}
	b, err := yaml.Marshal(cc)
	if err != nil {
		return nil, err
	}
	return append([]byte("#cloud-config\n"), b...), nil
}

// metaData is the NoCloud meta-data: the instance name as id and hostname,
// so cloud-init treats every VM as a first boot.
func metaData(name string) ([]byte, error) {
	return yaml.Marshal(map[string]string{"instance-id": name, "local-hostname": name})
}

// bootEnv is the seed's boot file, sourced by the bootstrap script: the
// variable names are the ones the install script reads.
func bootEnv(name, metadataURL, callbackURL, token string) []byte {
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
	return fmt.Appendf(nil, "PADDOCK_INSTANCE_NAME=%s\nMETADATA_URL=%s\nCALLBACK_URL=%s\nBEARER_TOKEN=%s\n",
		q(name), q(metadataURL), q(callbackURL), q(token))
}
