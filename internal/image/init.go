package image

// InitScript is the fast image's /init, run by busybox sh as PID 1. It sets up
// the minimum a runner needs, boots the runner with `paddock machine-boot` and
// powers the VM off when that returns, so one VM serves exactly one job.
//
// The machine's settings (metadata URL, callback URL, single-use token) come
// from the QEMU fw_cfg file opt/paddock/boot rather than the kernel command
// line: a command line is visible to every user of the host in `ps`, while
// the fw_cfg file is read by QEMU once and deleted by the provider.
const InitScript = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /tmp /run /work /usr/bin /usr/sbin /sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /tmp
echo "paddock-init: up $(cut -d' ' -f1 /proc/uptime)"
while read -r m; do
	[ -n "$m" ] && insmod "/lib/modules/$m" 2>/dev/null
done < /etc/paddock/modules
hostname paddock-vm
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
echo "nameserver 10.0.2.3" > /etc/resolv.conf
# A scratch disk, if the VM has one, becomes the encrypted workspace; without
# one the workspace stays in RAM like the rest of the root file system.
if [ -b /dev/vda ]; then
	if d=$(/bin/paddock machine-scratch /dev/vda scratch) && mke2fs -q -i 1048576 -m 0 "$d" >/dev/null && mount -t ext2 "$d" /work; then
		echo "paddock-init: workspace on encrypted scratch disk ($d)"
	else
		echo "paddock-init: encrypted scratch disk setup FAILED; workspace stays in RAM"
	fi
fi
cfg=/sys/firmware/qemu_fw_cfg/by_name/opt/paddock/boot/raw
i=0
while [ ! -r "$cfg" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
if [ -r "$cfg" ]; then
	while IFS='=' read -r k v; do
		case "$k" in
		PADDOCK_METADATA_URL|PADDOCK_CALLBACK_URL|PADDOCK_INSTANCE_TOKEN|PADDOCK_INSTANCE_NAME) export "$k=$v" ;;
		esac
	done < "$cfg"
	echo "paddock-init: network up $(cut -d' ' -f1 /proc/uptime), booting runner"
	cd /work && HOME=/work PATH=/bin:/sbin:/usr/bin:/usr/sbin /bin/paddock machine-boot
	echo "paddock-init: machine-boot exited with $?"
else
	echo "paddock-init: no boot settings in fw_cfg (opt/paddock/boot)"
fi
sync
poweroff -f
`

// Modules are the kernel modules the fast image loads (with their
// dependencies): PCI virtio transport, network and block devices, the fw_cfg
// sysfs interface for boot settings, and dm-crypt (AES-XTS over ECB) plus ext4 (which
// also mounts ext2, what busybox's mke2fs makes) for encrypted scratch disks.
var Modules = []string{"virtio_pci", "virtio_net", "virtio_blk", "qemu_fw_cfg", "dm_crypt", "ecb", "xts", "crc32c_generic", "ext4"}
