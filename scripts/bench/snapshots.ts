/**
 * Snapshot API latency as containerd sees it: the harness's snapbench
 * (containerd 1.7.24's Go proxy client) drives strata (overlay) and
 * containerd's own overlayfs snapshotter behind the same API (refsnap
 * --async-remove), each on a fresh root over its unix socket. Sides
 * alternate, with the page cache dropped before each, for `--rounds` rounds;
 * the table shows the median over rounds of each run's median and the ratio
 * strata / containerd (below 1: strata is faster).
 *
 * Then scale: one more alternating run with `--scale` snapshots (List of all
 * of them against containerd's), and on a strata server of its own, Prepare
 * and Stat latency with 100 and with `--scale` snapshots present and the
 * server's resident memory while a List streams them all.
 *
 *   node dist/scripts/bench/snapshots.js [--rounds 5] [--count 300] [--scale 10000]
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { spawnStrata } from '../../test/support/strata-process';
import { numberArg } from './api-phases';
import { CONTAINERD_OVERLAYFS, dropCaches, harnessAvailable, snapbench, STRATA_OVERLAY, type SnapbenchResult } from './snapbench';
import { median, printTable, timeMs } from './stats';

const ROUNDS = numberArg('rounds', 5);
const COUNT = numberArg('count', 300);
const SCALE = numberArg('scale', 10_000);
const CONCURRENCY = 32;
const flags = (n: number, listReps: number) => ['-n', String(n), '-concurrency', String(CONCURRENCY), '-per-worker', '10', '-list-reps', String(listReps)];

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

/** Runs both sides `rounds` times, alternating; per side, each round's result. */
async function alternate(rounds: number, snapbenchFlags: string[]) {
  const runs = { containerd: [] as SnapbenchResult[], strata: [] as SnapbenchResult[] };
  for (let round = 0; round < rounds; round++) {
    dropCaches();
    runs.containerd.push(await snapbench(CONTAINERD_OVERLAYFS, snapbenchFlags));
    dropCaches();
    runs.strata.push(await snapbench(STRATA_OVERLAY, snapbenchFlags));
  }
  return runs;
}

const medianOf = (results: SnapbenchResult[], op: string) => median(results.map((r) => r.medians.get(op)!)) / 1000;

function comparison(runs: Awaited<ReturnType<typeof alternate>>, operations: Array<[string, string]>): string[][] {
  const rows = [['operation', 'strata median ms', 'containerd median ms', 'strata/containerd']];
  for (const [op, label] of operations) {
    const strata = medianOf(runs.strata, op);
    const containerd = medianOf(runs.containerd, op);
    rows.push([label, strata.toFixed(3), containerd.toFixed(3), (strata / containerd).toFixed(2)]);
  }
  const throughput = (results: SnapbenchResult[]) => median(results.map((r) => r.pairsPerSecond));
  const [strata, containerd] = [throughput(runs.strata), throughput(runs.containerd)];
  rows.push([`${CONCURRENCY}-way Prepare+Commit (pairs/s)`, strata.toFixed(0), containerd.toFixed(0), `${(strata / containerd).toFixed(2)}x the throughput`]);
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
    const rss = async () => {
      const status = await fs.readFile(`/proc/${server.child.pid}/status`, 'utf8');
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
  const runs = await alternate(ROUNDS, flags(COUNT, 30));
  console.log(`\nSnapshot API through containerd's proxy client, ${COUNT} snapshots per phase, ${ROUNDS} alternating rounds`);
  printTable(comparison(runs, OPERATIONS));

  const scaled = await alternate(1, flags(SCALE, 5));
  console.log(`\nWith ${SCALE} snapshots (one alternating round)`);
  printTable(comparison(scaled, [['list', `List of ${SCALE}`], ['prepare', 'Prepare'], ['stat', 'Stat']]));

  const dir = await fs.mkdtemp('/tmp/sbench-');
  try {
    await scaleCheck(dir);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
