/**
 * Snapshot API latency as containerd sees it: the harness's snapbench
 * (containerd 1.7.24's Go proxy client) drives strata (overlay) and
 * containerd's own overlayfs snapshotter behind the same API (refsnap
 * --async-remove), each on a fresh root over its unix socket, and beside them
 * the floor of this stack (floor-server.ts: grpc-js with strata's proto
 * layer answering from memory), that floor over node:http2 without grpc-js,
 * and its durable floor (the same, with
 * containerd's disk work and an fsynced LMDB commit in every write). Roots
 * are on a fresh journaled ext4 (scratch-fs.ts). Sides alternate, with the
 * page cache dropped before each, for `--rounds` rounds; the table shows the
 * median over rounds of each run's median and the ratios to containerd
 * (below 1: faster).
 *
 * Then scale: one more alternating run with `--scale` snapshots (List of all
 * of them against containerd's), and on a strata server of its own, Prepare
 * and Stat latency with 100 and with `--scale` snapshots present and the
 * server's resident memory while a List streams them all.
 *
 * Lists are repeated 100 times (10 at scale) after the warm-up.
 *
 *   node dist/scripts/bench/snapshots.js [--rounds 5] [--count 300] [--scale 10000]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { spawnStrata } from '../../test/support/strata-process';
import { numberArg } from './args';
import { mountScratchFileSystem } from './scratch-fs';
import {
  CONTAINERD_OVERLAYFS,
  dropCaches,
  harnessAvailable,
  medianMs,
  snapbench,
  STRATA_BARE_FLOOR,
  STRATA_DURABLE_FLOOR,
  STRATA_FLOOR,
  STRATA_OVERLAY,
  type SnapbenchResult,
} from './snapbench';
import { median, printTable, timeMs } from './stats';

const ROUNDS = numberArg('rounds', 5);
const COUNT = numberArg('count', 300);
const SCALE = numberArg('scale', 10_000);
const CONCURRENCY = 32;
/**
 * Warm-up cycles (Prepare, Commit, Stat, Remove) before measuring, for every
 * side: snapbench's default of 20 leaves a Node.js server's first measured
 * phase running code V8 has not compiled yet, which a long-running server
 * never does. Go is compiled ahead of time and gains nothing from it.
 */
const WARMUP = 200;
const flags = (n: number, listReps: number) =>
  ['-n', String(n), '-concurrency', String(CONCURRENCY), '-per-worker', '10', '-list-reps', String(listReps), '-warmup', String(WARMUP)];

/** snapbench's operation names, as the table labels them. */
const OPERATIONS: Array<[string, string]> = [
  ['prepare', 'Prepare'],
  ['prepare_parent', 'Prepare with parent'],
  ['view', 'View'],
  ['commit', 'Commit'],
  ['remove', 'Remove (active)'],
  ['remove_view', 'Remove (view)'],
  ['remove_committed', 'Remove (committed)'],
  ['stat', 'Stat'],
  ['mounts', 'Mounts'],
  ['list', 'List'],
  [`concurrent${CONCURRENCY}_prepare_commit`, `${CONCURRENCY}-way Prepare+Commit pair`],
];

const SIDES = { strata: STRATA_OVERLAY, containerd: CONTAINERD_OVERLAYFS, floor: STRATA_FLOOR, bareFloor: STRATA_BARE_FLOOR, durableFloor: STRATA_DURABLE_FLOOR };
type Side = keyof typeof SIDES;
type Runs = Record<Side, SnapbenchResult[]>;
const SIDE_NAMES: Record<Side, string> = { strata: 'strata', containerd: 'containerd', floor: 'floor', bareFloor: 'floor without grpc-js', durableFloor: 'durable floor' };

/** Runs every side `rounds` times, alternating, each on a fresh root under `rootsDir`; per side, each round's result. */
async function alternate(rounds: number, snapbenchFlags: string[], rootsDir: string): Promise<Runs> {
  const runs: Runs = { strata: [], containerd: [], floor: [], bareFloor: [], durableFloor: [] };
  for (let round = 0; round < rounds; round++) {
    for (const side of Object.keys(SIDES) as Side[]) {
      const dir = fs.mkdtempSync(path.join(rootsDir, `${side}-`));
      dropCaches();
      runs[side].push(await snapbench(SIDES[side], [...snapbenchFlags, '-root', path.join(dir, 'root')]));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return runs;
}

/** Per operation, each side's median and its ratio to containerd's. */
function comparison(runs: Runs, operations: Array<[string, string]>): string[][] {
  const sides = Object.keys(SIDES) as Side[];
  const others = sides.filter((side) => side !== 'containerd');
  const rows = [['operation', ...sides.map((side) => `${SIDE_NAMES[side]} ms`), ...others.map((side) => `${SIDE_NAMES[side]}/containerd`)]];
  for (const [op, label] of operations) {
    const ms = (side: Side) => medianMs(runs[side], op);
    rows.push([label, ...sides.map((side) => ms(side).toFixed(3)), ...others.map((side) => (ms(side) / ms('containerd')).toFixed(2))]);
  }
  const throughput = (side: Side) => median(runs[side].map((r) => r.pairsPerSecond));
  rows.push([
    `${CONCURRENCY}-way Prepare+Commit (pairs/s)`,
    ...sides.map((side) => throughput(side).toFixed(0)),
    ...others.map((side) => `${(throughput(side) / throughput('containerd')).toFixed(2)}x`),
  ]);
  return rows;
}

/**
 * On a fresh strata server: Prepare and Stat latency with 100 and with
 * SCALE snapshots present, and resident memory before and during a List of
 * them all.
 */
async function scaleCheck(dir: string) {
  const address = path.join(dir, 'scale.sock');
  const server = await spawnStrata(['--root', path.join(dir, 'scale'), '--log-level', 'warn'], address);
  const client = new SnapshotsClient(address);
  try {
    const rss = () => {
      const status = fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8');
      return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
    };
    // Snapshots named scale-N, and the probes Prepare's timing adds.
    let named = 0;
    let probes = 0;
    const rows = [['snapshots present', 'Prepare median ms', 'Stat median ms', 'server RSS MB idle', 'peak during List']];
    for (const size of [100, SCALE]) {
      for (; named + probes < size; named++) await client.prepare(`scale-${named}`);
      const prepares = [];
      for (let i = 0; i < 200; i++, probes++) prepares.push(await timeMs(() => client.prepare(`probe-${probes}`)));
      const stats = [];
      for (let i = 0; i < 1000; i++) stats.push(await timeMs(() => client.stat(`scale-${(i * 7) % named}`)));
      const idle = await rss();
      let peak = idle;
      let listed = 0;
      for await (const _ of client.list()) if (++listed % 500 === 0) peak = Math.max(peak, await rss());
      rows.push([String(listed), median(prepares).toFixed(3), median(stats).toFixed(3), idle.toFixed(0), peak.toFixed(0)]);
    }
    console.log('\nScale (strata alone, grpc-js client): latency and List memory as the store grows');
    printTable(rows);
  } finally {
    client.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

async function main() {
  if (!harnessAvailable()) {
    console.log('snapshots: skipped, the containerd harness is not built (bash ../shared/harness/build.sh)');
    return;
  }
  const scratch = mountScratchFileSystem('/var/tmp/strata-bench-snapshots', '8G');
  try {
    console.log(`${os.cpus()[0].model}, ${os.cpus().length} cores, Linux ${os.release()}, Node.js ${process.version}, ${new Date().toISOString()}`);
    console.log(`roots in ${scratch.dir} (${scratch.describe()})`);
    const runs = await alternate(ROUNDS, flags(COUNT, 100), scratch.dir);
    console.log(`\nSnapshot API through containerd's proxy client, ${COUNT} snapshots per phase, ${ROUNDS} alternating rounds`);
    printTable(comparison(runs, OPERATIONS));

    const scaled = await alternate(1, flags(SCALE, 10), scratch.dir);
    console.log(`\nWith ${SCALE} snapshots (one alternating round)`);
    printTable(comparison(scaled, [['list', `List of ${SCALE}`], ['prepare', 'Prepare'], ['stat', 'Stat']]));

    await scaleCheck(fs.mkdtempSync(path.join(scratch.dir, 'scale-')));
  } finally {
    scratch.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
