#!/bin/sh
# Runs COMMAND inside a qemu VM whose kernel has device-mapper, and exits with
# COMMAND's exit code. The guest switches to this machine's root (read-only
# over 9p), so the node, node_modules and dist/ it runs are exactly the
# host's; it can write only to its tmpfs /tmp and /run and to the results share.
#
# usage: run.sh [--results DIR] [--timeout SECONDS] -- COMMAND...
#   --results DIR  keep stdout, stderr, exit-code and console.log in DIR
#                  (default: a temporary directory, removed afterwards)
#   --timeout S    kill the VM after S seconds and exit 124 (default 600); a
#                  second boot after a guest kernel lockup shares these seconds
# Forwarded into the guest: PATH, HOME, LANG, TZ, NODE_OPTIONS, every STRATA_*
# variable, and the names listed in $VM_ENV (space-separated).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
results=""
timeout_s=600
while [ $# -gt 0 ]; do
  case $1 in
    --results) results=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 [--results DIR] [--timeout SECONDS] -- COMMAND..." >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "run.sh: no command given" >&2; exit 2; }

# The guest mounts tmpfs over /tmp and /run; a working directory there is
# shared on its own (read-only) and mounted back at the same path.
workdir_share=""
case $PWD in
  /tmp|/tmp/*|/run|/run/*)
    workdir_share="-virtfs local,path=$PWD,mount_tag=workdir,security_model=none,readonly=on,multidevs=remap" ;;
esac

. "$HERE/kernel.sh"
kver=$(vm_kernel_version)
cache=${STRATA_VM_CACHE:-/var/tmp/strata-vm}
initrd="$cache/initramfs-$kver.gz"
"$HERE/build-initramfs.sh" "$initrd"

if [ -n "$results" ]; then
  mkdir -p "$results"
  results=$(cd "$results" && pwd)
  rm -f "$results/stdout" "$results/stderr" "$results/exit-code" "$results/console.log" "$results/job.sh" "$results/workdir"
else
  results=$(mktemp -d /tmp/strata-vm.XXXXXX)
  trap 'rm -rf "$results"' EXIT
fi

# Single-quotes a word for sh: ' becomes '\''.
quote() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

{
  echo "set -e"
  for name in PATH HOME LANG TZ NODE_OPTIONS $(env | sed -n 's/^\(STRATA_[A-Za-z0-9_]*\)=.*/\1/p') ${VM_ENV:-}; do
    eval "set=\${$name+x}"
    # shellcheck disable=SC2154
    [ "$set" = x ] || continue
    eval "value=\$$name"
    echo "export $name=$(quote "$value")"
  done
  # No udev in the guest: dmsetup must create the /dev/mapper nodes itself.
  echo "export DM_DISABLE_UDEV=1"
  echo "cd $(quote "$PWD")"
  printf 'exec'
  for arg in "$@"; do printf ' %s' "$(quote "$arg")"; done
  echo
} > "$results/job.sh"

[ -z "$workdir_share" ] || printf '%s\n' "$PWD" > "$results/workdir"

# One boot of the VM; sets $status to qemu's exit status (124 or 137 on timeout).
boot() {
  rm -f "$results/stdout" "$results/stderr" "$results/exit-code" "$results/console.log"
  status=0
  # softlockup_panic: a guest kernel that locks up panics, and -no-reboot
  # turns the panic into qemu's exit instead of a wait for the timeout.
  # loglevel=5 puts the stack of a lockup or oops on the console.
  # shellcheck disable=SC2086
  timeout -k 5 "$1" qemu-system-x86_64 \
    -accel tcg,thread=multi -cpu qemu64 -m "${STRATA_VM_MEMORY:-2048}" -smp "${STRATA_VM_CPUS:-2}" \
    -display none -no-reboot -nodefaults -no-user-config \
    -serial "file:$results/console.log" \
    -kernel "/boot/vmlinuz-$kver" -initrd "$initrd" \
    -append "console=ttyS0 loglevel=5 panic=-1 softlockup_panic=1" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs "local,path=$results,mount_tag=results,security_model=none,multidevs=remap" \
    $workdir_share \
    < /dev/null || status=$?
}

deadline=$(( $(date +%s) + timeout_s ))
boot "$timeout_s"
# Under software emulation the guest kernel has been seen to lock up on both
# CPUs while runc started a container (soft lockups for the rest of the run;
# the same suites pass on other boots). That is the emulator's or the guest
# kernel's fault, not the job's: boot once more with the time that is left,
# and say so.
if [ ! -f "$results/exit-code" ] && grep -q "soft lockup" "$results/console.log" 2>/dev/null; then
  echo "run.sh: the guest kernel locked up (soft lockup); the console said:" >&2
  grep -A 30 "soft lockup" "$results/console.log" | head -n 40 >&2
  left=$(( deadline - $(date +%s) ))
  if [ "$left" -gt 0 ]; then
    echo "run.sh: booting the VM again for the ${left}s left" >&2
    boot "$left"
  fi
fi

[ -f "$results/stdout" ] && cat "$results/stdout"
[ -f "$results/stderr" ] && cat "$results/stderr" >&2

if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "run.sh: the VM did not finish within ${timeout_s}s; console:" >&2
  tail -n 40 "$results/console.log" >&2 || true
  exit 124
fi
if [ ! -f "$results/exit-code" ]; then
  echo "run.sh: the VM stopped without reporting an exit code (qemu exit $status); console:" >&2
  tail -n 40 "$results/console.log" >&2 || true
  exit 125
fi
exit "$(cat "$results/exit-code")"
