/**
 * Runs the harness's snapbench (containerd 1.7.24's Go proxy client driving a
 * snapshotter over its unix socket, ../shared/harness/README.md) and reads
 * its output: `op median_us p99_us` lines and the concurrent phase's
 * throughput comment.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root';
import { STRATA_BIN } from '../../test/support/strata-process';
import { median } from './stats';

export const HARNESS = process.env.STRATA_HARNESS ?? path.resolve(PACKAGE_ROOT, '..', 'shared', 'harness');
export const HARNESS_BIN = process.env.HARNESS_BIN ?? '/var/cache/strata-harness/bin';

/** containerd's overlayfs snapshotter with the asynchronous remove containerd's daemon uses by default. */
export const CONTAINERD_OVERLAYFS = `exec ${HARNESS_BIN}/refsnap --async-remove --root {root} --address {socket}`;

/** The floor of a server on this stack (floor-server.ts), as built in dist/. */
export const STRATA_FLOOR = `exec ${process.execPath} ${path.join(PACKAGE_ROOT, 'dist', 'scripts', 'bench', 'floor-server.js')} {socket}`;

/** The same floor over node:http2 without grpc-js (bare-grpc.ts): what Node.js's transport alone costs. */
export const STRATA_BARE_FLOOR = STRATA_FLOOR.replace(' {socket}', ' --bare-http2 {socket}');

/** The same floor with containerd's disk work and a durable LMDB commit in each write. */
export const STRATA_DURABLE_FLOOR = `${STRATA_FLOOR} {root}`;

/** `strata serve` as built in dist/, on the harness's root and socket; options may follow. */
export const STRATA_SERVE = `exec ${process.execPath} ${STRATA_BIN} serve --root {root} --address {socket} --log-level warn`;

/** strata's overlay backend (the default one). */
export const STRATA_OVERLAY = STRATA_SERVE;

export interface SnapbenchResult {
  /** Median latency in microseconds by snapbench's operation name. */
  medians: Map<string, number>;
  /** Prepare+Commit pairs per second in the concurrent phase. */
  pairsPerSecond: number;
}

export function harnessAvailable(): boolean {
  return fs.existsSync(path.join(HARNESS, 'run-bench.sh')) && fs.existsSync(path.join(HARNESS_BIN, 'snapbench'));
}

/** The page cache dropped, so neither side runs on the other's warm cache. */
export function dropCaches(): void {
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/**
 * One snapbench run against the snapshotter `command` starts (`{root}`,
 * `{socket}` filled in by the harness), with `env` added to its environment.
 */
export async function snapbench(command: string, flags: string[], env: Record<string, string> = {}): Promise<SnapbenchResult> {
  const child = spawn(path.join(HARNESS, 'run-bench.sh'), [command, ...flags], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`snapbench failed (${code}): ${stderr}`);
  const medians = new Map<string, number>();
  let pairsPerSecond = NaN;
  for (const line of stdout.split('\n')) {
    const throughput = /throughput: ([\d.]+) prepare\+commit pairs\/s/.exec(line);
    if (throughput) pairsPerSecond = Number(throughput[1]);
    const fields = line.split(' ');
    if (!line.startsWith('#') && fields.length === 3) medians.set(fields[0], Number(fields[1]));
  }
  return { medians, pairsPerSecond };
}

/** The median over runs of each run's median for `op`, in milliseconds. */
export function medianMs(results: SnapbenchResult[], op: string): number {
  return median(results.map((r) => r.medians.get(op)!)) / 1000;
}
