/** What the file-system benchmarks share: the cached realistic rootfs, shell calls, cold caches. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const CACHE = '/var/tmp/strata-bench';
/** A `debootstrap --variant=minbase bookworm` tree: about 6,800 entries. */
export const ROOTFS = path.join(CACHE, 'rootfs');

export const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] }).toString();

/** Writes back and drops the page cache, so every timed run starts cold. */
export function dropCaches(): void {
  sh('sync', []);
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** Builds ROOTFS once (needs the `debootstrap` package). */
export function ensureRootfs(): void {
  if (fs.existsSync(path.join(ROOTFS, 'etc/debian_version'))) return;
  console.log(`building ${ROOTFS} with debootstrap (once)...`);
  sh('debootstrap', ['--variant=minbase', 'bookworm', ROOTFS, debianMirror()]);
}

/** The mirror this machine's apt uses, so debootstrap fetches from where apt-get does. */
function debianMirror(): string {
  const sources = fs.readFileSync('/etc/apt/sources.list.d/debian.sources', 'utf8');
  const uri = /^URIs:\s*(\S+)/m.exec(sources);
  if (!uri) throw new Error('no URIs line in /etc/apt/sources.list.d/debian.sources');
  return uri[1];
}
