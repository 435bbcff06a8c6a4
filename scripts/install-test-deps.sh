#!/usr/bin/env bash
# Debian packages the test suite needs on a fresh Debian 12 machine (run as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(util-linux e2fsprogs attr zstd)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
bash scripts/vm/install-deps.sh
bash scripts/containerd/install.sh >/dev/null

# containerd's conformance suite and reference snapshotters, built offline from
# containerd 1.7.24's sources into a cache outside the checkout.
harness=${STRATA_HARNESS_DIR:-../shared/harness}
if [ -f "$harness/build.sh" ]; then
  log=$(mktemp)
  bash "$harness/build.sh" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
else
  echo "install-test-deps.sh: no conformance harness at $harness (set STRATA_HARNESS_DIR); its tests will fail" >&2
fi
