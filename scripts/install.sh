#!/usr/bin/env bash
# Installs strata from this checkout and (re)starts it with defaults: overlay
# backend, metadata under /var/lib/strata, socket /run/strata/strata.sock.
# Debian 12, as root.
#
# The installed copy is self-contained, built in a staging directory and not
# in this checkout: /usr/local/lib/strata holds the compiled server, its
# production node_modules, proto/, package.json and README.md;
# /usr/local/bin/strata runs it. Moving or deleting the checkout afterwards
# changes nothing. It also installs the Debian packages of every program the
# server runs (the list is src/exec/tools.ts, printed by
# scripts/runtime-packages.ts).
#
# Under systemd it installs and enables strata.service and restarts a running
# server. Elsewhere it stops the server named by /run/strata/strata.pid, if
# any, and starts the new one in the background with that PID file, logging
# to /var/log/strata.log.
#
# STRATA_PREFIX=DIR puts every path above under DIR (for tests; systemd is
# then never touched).
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd)
prefix=${STRATA_PREFIX:-}

lib=$prefix/usr/local/lib/strata
bin=$prefix/usr/local/bin/strata
address=$prefix/run/strata/strata.sock
pid_file=$prefix/run/strata/strata.pid
log_file=$prefix/var/log/strata.log
say() { echo "install.sh: $*"; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  echo "install.sh: strata needs Node.js 20 or newer on PATH (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
node=$(command -v node)

use_systemd=false
if [ -z "$prefix" ] && [ -d /run/systemd/system ]; then use_systemd=true; fi

# Build in a staging directory beside the final one, so the swap is a rename.
mkdir -p "$(dirname "$lib")" "$(dirname "$bin")"
stage=$(mktemp -d "$(dirname "$lib")/.strata-new.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cp -R package.json package-lock.json tsconfig.json README.md src proto "$stage/"
mkdir "$stage/scripts"
cp -R scripts/build scripts/runtime-packages.ts scripts/strata.service "$stage/scripts/"
(
  cd "$stage"
  npm ci --no-audit --no-fund --loglevel=error
  npm run build --silent
)

# Debian packages of every program the server runs.
mapfile -t packages < <("$node" "$stage/dist/scripts/runtime-packages.js")
say "runtime packages: ${packages[*]}"
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Keep only what runs: compiled server, production dependencies, protos, docs, unit.
(
  cd "$stage"
  npm prune --omit=dev --no-audit --no-fund --loglevel=error
  mv scripts/strata.service .
  rm -rf src scripts tsconfig.json dist/scripts dist/test
)

# Stops the running server, if any, before its files are replaced.
was_running=false
if $use_systemd; then
  if systemctl is-active --quiet strata.service; then was_running=true; systemctl stop strata.service; fi
elif [ -s "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
  was_running=true
  pid=$(cat "$pid_file")
  say "stopping the running server (pid $pid)"
  kill -TERM "$pid"
  # serve drains in-flight calls for up to 10 s before it exits.
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then echo "install.sh: the server (pid $pid) did not stop within 15 s" >&2; exit 1; fi
fi

rm -rf "$lib.old"
if [ -e "$lib" ]; then mv "$lib" "$lib.old"; fi
mv "$stage" "$lib"
trap - EXIT
rm -rf "$lib.old"
cat > "$bin.new" <<WRAPPER
#!/bin/sh
# strata opens no TLS connection, and Node.js reads NODE_EXTRA_CA_CERTS's
# bundle at every start (90 ms measured).
unset NODE_EXTRA_CA_CERTS
exec "$node" "$lib/dist/src/cli/launch.js" "\$@"
WRAPPER
chmod 755 "$bin.new"
mv "$bin.new" "$bin"

if $use_systemd; then
  install -m 644 "$lib/strata.service" /etc/systemd/system/strata.service
  systemctl daemon-reload
  systemctl enable --now strata.service
else
  if "$bin" --address "$address" status >/dev/null 2>&1; then
    # A server without a PID file (started by hand or by an older install.sh): not ours to stop.
    say "a server not started by install.sh serves on $address: restart it to run the new version"
  else
    mkdir -p "$(dirname "$log_file")"
    flags=(--pid-file "$pid_file")
    if [ -n "$prefix" ]; then flags+=(--address "$address" --root "$prefix/var/lib/strata"); fi
    setsid nohup "$bin" serve "${flags[@]}" >>"$log_file" 2>&1 </dev/null &
    for _ in $(seq 100); do "$bin" --address "$address" status >/dev/null 2>&1 && break; sleep 0.1; done
  fi
fi
"$bin" --address "$address" status >/dev/null
say "strata $("$bin" --version) from $checkout is installed in $lib and serving on $address$($was_running && echo ' (restarted)')"
