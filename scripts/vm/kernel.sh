# Sourced by the VM scripts: which installed kernel the VM boots.

# The kernel version to boot: $STRATA_VM_KERNEL, else the highest version that
# has both /boot/vmlinuz-VERSION and /lib/modules/VERSION.
vm_kernel_version() {
  if [ -n "${STRATA_VM_KERNEL:-}" ]; then
    echo "$STRATA_VM_KERNEL"
    return
  fi
  found=$(for kernel in /boot/vmlinuz-*; do
    version=${kernel#/boot/vmlinuz-}
    [ -d "/lib/modules/$version" ] && echo "$version"
  done | sort -V | tail -n 1)
  if [ -z "$found" ]; then
    echo "no kernel in /boot with modules in /lib/modules: run scripts/vm/install-deps.sh" >&2
    return 1
  fi
  echo "$found"
}
