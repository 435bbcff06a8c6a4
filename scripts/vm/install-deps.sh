#!/bin/sh
# Installs what the thin-pool test VM needs: qemu (TCG), a Debian kernel whose
# device-mapper, 9p and xfs are modules, a static busybox for the initramfs,
# and the user-space tools the thin backend runs inside the guest.
# Idempotent: apt-get is only called when a package is missing.
set -eu

PACKAGES="qemu-system-x86 linux-image-amd64 busybox-static dmsetup xfsprogs e2fsprogs cpio kmod"

missing=""
for pkg in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $pkg"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

echo "install-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y --no-install-recommends $missing; then
  apt-get update
  apt-get install -y --no-install-recommends $missing
fi
