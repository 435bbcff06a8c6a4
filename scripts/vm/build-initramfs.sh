#!/bin/sh
# Builds the test VM's initramfs at OUT: a static busybox, the kernel modules
# the thin-pool tests need (with their dependencies, in load order) and
# init.sh as /init. Rebuilds only when an input changed: the kernel version,
# busybox, init.sh, kernel.sh or this script.
#
# usage: build-initramfs.sh OUT
# env:   STRATA_VM_KERNEL  kernel version (default: newest in /boot with modules)
set -eu

[ $# -eq 1 ] || { echo "usage: $0 OUT" >&2; exit 2; }
OUT=$1
HERE=$(cd "$(dirname "$0")" && pwd)
MODULES="9pnet_virtio 9p virtio_pci dm_thin_pool overlay loop ext4 xfs"
BUSYBOX=/bin/busybox

. "$HERE/kernel.sh"
KVER=$(vm_kernel_version)

stamp=$(cat "$BUSYBOX" "$HERE/init.sh" "$HERE/kernel.sh" "$0" | sha256sum | cut -d' ' -f1)
stamp="$KVER $stamp $MODULES"
if [ -f "$OUT" ] && [ -f "$OUT.stamp" ] && [ "$(cat "$OUT.stamp")" = "$stamp" ]; then
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/modules" "$work/proc" "$work/sys" "$work/dev"
cp "$BUSYBOX" "$work/bin/busybox"
cp "$HERE/init.sh" "$work/init"
chmod 755 "$work/init"

# modprobe prints each module's dependencies first; keep the first mention of each.
for module in $MODULES; do
  modprobe -S "$KVER" --show-depends "$module"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$work/paths"
[ -s "$work/paths" ] || { echo "build-initramfs: no modules found for kernel $KVER" >&2; exit 1; }
while read -r ko; do
  name=$(basename "$ko")
  cp "$ko" "$work/modules/$name"
  echo "$name" >> "$work/modules.order"
done < "$work/paths"
rm "$work/paths"

mkdir -p "$(dirname "$OUT")"
(cd "$work" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$stamp" > "$OUT.stamp"
