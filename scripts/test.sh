#!/usr/bin/env bash
# Installs everything the test suite needs and runs all of it: unit, gRPC,
# overlay mount, crash, containerd end-to-end, and the thin-pool tests inside a
# qemu VM. Debian 12, as root. This is the command README's quick start and
# .ci/run both run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-test-deps.sh
npm ci --no-audit --no-fund
npm test
