#!/bin/bash
# Obtains containerd 1.7 for the end-to-end tests and prints the directory of
# its binaries (containerd, ctr, containerd-shim-runc-v2).
#
# bookworm ships containerd 1.6, which has no proxy diff plugins; trixie ships
# 1.7. Installing a trixie package would drag in a newer libc, so the .deb is
# only downloaded and unpacked. runc and busybox-static come from bookworm and
# are installed normally (the tests need runc on PATH and busybox for images).
#
# Usage: scripts/containerd/install.sh [DIR]   (default /var/cache/strata-ci/containerd)
# Idempotent: a second run only checks the cache and prints the bin dir.
set -euo pipefail

dir=${1:-/var/cache/strata-ci/containerd}
bin_dir=$dir/root/usr/bin
system_sources=/etc/apt/sources.list.d/debian.sources

log() { echo "install.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

is_containerd_17() {
  [ -x "$bin_dir/containerd" ] && [ -x "$bin_dir/ctr" ] && [ -x "$bin_dir/containerd-shim-runc-v2" ] &&
    "$bin_dir/containerd" --version 2>/dev/null | grep -Eq ' v?1\.7\.'
}

install_bookworm_packages() {
  local missing=()
  dpkg -s runc >/dev/null 2>&1 || missing+=(runc)
  dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return
  log "installing ${missing[*]} from bookworm"
  # An earlier update's lists may already be enough; only refresh when not.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
    { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; }
}

# Prints a deb822 stanza for trixie using the URI and keyring of the system's
# main (non-security) bookworm source, so no mirror is hard-coded here.
trixie_sources() {
  [ -r "$system_sources" ] || die "$system_sources not found; cannot derive the Debian mirror"
  awk '
    function flush() {
      if (uris != "" && suites ~ /(^| )bookworm( |$)/ && !done) {
        printf "Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\n", uris
        if (signed != "") printf "Signed-By: %s\n", signed
        done = 1
      }
      uris = ""; suites = ""; signed = ""
    }
    /^[[:space:]]*$/ { flush(); next }
    /^URIs:/      { sub(/^URIs:[[:space:]]*/, "");      uris = $0 }
    /^Suites:/    { sub(/^Suites:[[:space:]]*/, "");    suites = $0 }
    /^Signed-By:/ { sub(/^Signed-By:[[:space:]]*/, ""); signed = $0 }
    END { flush(); if (!done) exit 1 }
  ' "$system_sources" || die "no bookworm stanza with URIs in $system_sources"
}

download_containerd_17() {
  local apt_dir=$dir/apt
  rm -rf "$apt_dir" "$dir/root"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/debs"
  trixie_sources >"$apt_dir/trixie.sources"
  # Separate sources, lists and caches keep trixie out of the system's apt state.
  local apt_opts=(
    -o "Dir::Etc::sourcelist=$apt_dir/trixie.sources"
    -o "Dir::Etc::sourceparts=-"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Get::List-Cleanup=0"
    # The download directory is root's; apt's _apt user could not write it.
    -o "APT::Sandbox::User=root"
  )
  log "downloading trixie's containerd"
  apt-get "${apt_opts[@]}" update >&2
  (cd "$apt_dir/debs" && apt-get "${apt_opts[@]}" download containerd >&2)
  local deb
  deb=$(ls "$apt_dir"/debs/containerd_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || die "apt-get download containerd produced no .deb"
  dpkg -x "$deb" "$dir/root"
  # The package lists are large and only needed for the download.
  rm -rf "$apt_dir/lists" "$apt_dir/cache"
}

# Already there: answer without writing anything (the test VM sees this cache read-only).
if dpkg -s runc busybox-static >/dev/null 2>&1 && is_containerd_17; then
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$dir"
# Tests may call this concurrently; one of them does the work.
exec 9>"$dir/.lock"
flock 9

install_bookworm_packages
if ! is_containerd_17; then
  download_containerd_17
  is_containerd_17 || die "unpacked containerd in $bin_dir is not version 1.7: $("$bin_dir/containerd" --version 2>&1 || true)"
fi
echo "$bin_dir"
