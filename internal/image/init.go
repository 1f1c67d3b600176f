package image

// InitScript is the fast image's /init, run by busybox sh as PID 1. It sets up
// the minimum a runner needs, boots the runner with `paddock-guest boot` and
// powers the VM off when that returns, so one VM serves exactly one job.
// Nothing in it waits on a timer: each step starts as soon as the one before
// it has returned.
//
// The machine's settings (metadata URL, callback URL, single-use token) come
// from the QEMU fw_cfg file opt/paddock/boot rather than the kernel command
// line: a command line is visible to every user of the host in `ps`, while
// the fw_cfg file is read by QEMU once and deleted by the provider.
//
// It stamps the guest's uptime as it goes (read from /proc/uptime by the
// shell itself, no process started) and hands the stamps to paddock-guest,
// which prints them on one timing line with its own.
const InitScript = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
read -r up _ < /proc/uptime
echo "paddock-init: up $up"
t="init=$up"
/bin/busybox --install -s
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
while read -r m; do
	insmod "/lib/modules/$m"
done < /etc/paddock/modules
read -r up _ < /proc/uptime
t="$t modules=$up"
hostname paddock-vm
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "nameserver 10.0.2.3" > /etc/resolv.conf
read -r up _ < /proc/uptime
t="$t net=$up"
# A scratch disk, if the VM has one, becomes the encrypted workspace; without
# one the workspace stays in RAM like the rest of the root file system, and
# the dm-crypt and ext4 modules are not even loaded.
if [ -b /dev/vda ]; then
	while read -r m; do
		insmod "/lib/modules/$m"
	done < /etc/paddock/modules-scratch
	if d=$(/bin/paddock-guest scratch /dev/vda scratch) && mke2fs -q -i 1048576 -m 0 "$d" >/dev/null && mount -t ext2 "$d" /work; then
		echo "paddock-init: workspace on encrypted scratch disk ($d)"
	else
		echo "paddock-init: encrypted scratch disk setup FAILED; workspace stays in RAM"
	fi
	read -r up _ < /proc/uptime
	t="$t scratch=$up"
fi
# qemu_fw_cfg, loaded above, has made the file by the time insmod returns.
cfg=/sys/firmware/qemu_fw_cfg/by_name/opt/paddock/boot/raw
if [ -r "$cfg" ]; then
	while IFS='=' read -r k v; do
		case "$k" in
		PADDOCK_METADATA_URL|PADDOCK_CALLBACK_URL|PADDOCK_INSTANCE_TOKEN|PADDOCK_INSTANCE_NAME) export "$k=$v" ;;
		esac
	done < "$cfg"
	echo "paddock-init: network up $up, booting runner"
	cd /work && PADDOCK_TIMING="$t" HOME=/work PATH=/bin:/sbin:/usr/bin:/usr/sbin /bin/paddock-guest boot
	echo "paddock-init: paddock-guest exited with $?"
elif grep -qw paddock.snapshot /proc/cmdline; then
	# A snapshot template: paddock-guest waits on the virtio-serial port for
	# the identity the host writes after each restore (docs/qemu.md).
	echo "paddock-init: network up $up, snapshot template, waiting for identity"
	cd /work && PADDOCK_IDENTITY_PORT=org.paddock.identity PADDOCK_TIMING="$t" HOME=/work PATH=/bin:/sbin:/usr/bin:/usr/sbin /bin/paddock-guest boot
	echo "paddock-init: paddock-guest exited with $?"
else
	echo "paddock-init: no boot settings in fw_cfg (opt/paddock/boot)"
fi
sync
poweroff -f
`

// Modules are the kernel modules the fast image loads at every boot (with
// their dependencies): PCI virtio transport, network and block devices, the
// fw_cfg sysfs interface for boot settings, and virtio-serial, the channel
// a VM restored from a snapshot gets its identity on (loading it is a few
// milliseconds, and a cold-booted VM has no such port).
var Modules = []string{"virtio_pci", "virtio_net", "virtio_blk", "qemu_fw_cfg", "virtio_console"}

// ScratchModules are loaded only for a scratch disk: dm-crypt (AES-XTS over
// ECB) and ext4 (which also mounts ext2, what busybox's mke2fs makes).
var ScratchModules = []string{"dm_crypt", "ecb", "xts", "crc32c_generic", "ext4"}
