#!/usr/bin/env bash
# Installs strata from this checkout and starts it with defaults: overlay
# backend, metadata under /var/lib/strata, socket /run/strata/strata.sock.
# Debian 12, as root. Under systemd it installs and enables strata.service;
# elsewhere it starts the server in the background, logging to
# /var/log/strata.log.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  echo "install.sh: strata needs Node.js 20 or newer on PATH (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
for tool in mount umount; do command -v "$tool" >/dev/null || { apt-get update -qq; apt-get install -y -qq util-linux mount; }; done

npm ci --no-audit --no-fund
npm run build
cat > /usr/local/bin/strata <<WRAPPER
#!/bin/sh
exec node "$repo/dist/src/cli/main.js" "\$@"
WRAPPER
chmod 755 /usr/local/bin/strata

if [ -d /run/systemd/system ]; then
  install -m 644 scripts/strata.service /etc/systemd/system/strata.service
  systemctl daemon-reload
  systemctl enable --now strata.service
else
  if ! strata snapshot ls >/dev/null 2>&1; then
    nohup strata serve >>/var/log/strata.log 2>&1 &
    for _ in $(seq 50); do strata snapshot ls >/dev/null 2>&1 && break; sleep 0.1; done
  fi
fi
strata snapshot ls >/dev/null && echo "strata $(strata --version) is serving on /run/strata/strata.sock"
