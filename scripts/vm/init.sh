#!/bin/busybox sh
# /init of the test VM: load the modules, switch to the host's root (shared
# read-only over 9p), run the job the host left in the results share, write
# its exit code next to its output, power off.
/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

while read -r module; do
  # A module some other module already pulled in, or a CPU-specific variant the
  # emulated CPU lacks (crc32c-intel), fails harmlessly here.
  insmod "/modules/$module" 2>/dev/null || true
done < /modules.order

fail() {
  echo "vm-init: $*" > /dev/console
  poweroff -f
}

# Loopback only: tests talk to servers they start on 127.0.0.1 (metrics).
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up

mkdir -p /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose hostroot /newroot || fail "cannot mount the host root"
# Everything the guest writes goes to tmpfs or the results share: the host root stays untouched.
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
mount -t tmpfs -o mode=755 tmpfs /newroot/run
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mount -t devtmpfs devtmpfs /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
if [ -d /sys/fs/cgroup ]; then mount -t cgroup2 cgroup2 /newroot/sys/fs/cgroup 2>/dev/null || true; fi

mkdir -p /newroot/run/vm-results
# cache=none: every write reaches the host at once, so output survives a timeout kill.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=none results /newroot/run/vm-results || fail "cannot mount the results share"

if [ -f /newroot/run/vm-results/workdir ]; then
  workdir=$(cat /newroot/run/vm-results/workdir)
  mkdir -p "/newroot$workdir"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,cache=loose workdir "/newroot$workdir" || fail "cannot mount the working directory $workdir"
fi

# switch_root, not chroot: the host root must become the mount namespace's
# real root. runc pivots into container roots, which the kernel refuses while
# that root is the initramfs, and a process `runc exec` starts in a container
# would see the initramfs instead of the container's root file system.
# The busybox run from here on is the host's (busybox-static).
exec switch_root /newroot /bin/busybox sh -c '
  /bin/sh /run/vm-results/job.sh > /run/vm-results/stdout 2> /run/vm-results/stderr
  echo $? > /run/vm-results/exit-code
  sync
  umount /run/vm-results
  /bin/busybox poweroff -f'
