/**
 * Snapshot API latency over the real unix socket: strata (overlay backend)
 * against containerd 1.7's own overlayfs snapshotter behind the same
 * snapshots API on the same machine. Phases alternate between the two so
 * machine noise hits both alike. Prints median and p99 per operation and the
 * ratio of medians (strata / containerd; below 1 means strata is faster).
 *
 *   node dist/scripts/bench/snapshots.js [--count N] [--scale N]
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { startContainerd } from '../../test/support/containerd';
import { spawnStrata, type StrataProcess } from '../../test/support/strata-process';
import { comparisonRows, numberArg, runPhase, type ApiTarget } from './api-phases';
import { median, printTable, timeMs } from './stats';

const COUNT = numberArg('count', 1000);
const SCALE = numberArg('scale', 10_000);
const CONCURRENCY = 64;
/** containerd's garbage collector would take unreferenced snapshots mid-benchmark; both sides get the label. */
const ROOT = { 'containerd.io/gc.root': 'bench' };

async function concurrentThroughput(target: ApiTarget, prefix: string, total: number): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < total) {
        const i = next++;
        await target.client.prepare(`${prefix}/a-${i}`, '', ROOT);
        await target.client.commit(`${prefix}/c-${i}`, `${prefix}/a-${i}`, ROOT);
      }
    }),
  );
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function main() {
  const dir = await fs.mkdtemp('/tmp/sbench-');
  let strata: StrataProcess | undefined;
  const containerd = await startContainerd({ dir: path.join(dir, 'c') });
  try {
    const strataAddress = path.join(dir, 's.sock');
    strata = await spawnStrata(['--root', path.join(dir, 'strata'), '--log-level', 'warn'], strataAddress);
    const targets: ApiTarget[] = [
      { name: 'strata', client: new SnapshotsClient(strataAddress), samples: new Map() },
      {
        name: 'containerd',
        client: new SnapshotsClient(containerd.address, { snapshotter: 'overlayfs', namespace: containerd.namespace }),
        samples: new Map(),
      },
    ];
    const keys = Array.from({ length: COUNT }, (_, i) => String(i));
    await runPhase(targets, 'Prepare', keys, (c, k) => c.prepare(`base-${k}`, '', ROOT));
    await runPhase(targets, 'Commit', keys, (c, k) => c.commit(`layer-${k}`, `base-${k}`, ROOT));
    await runPhase(targets, 'Prepare with parent', keys, (c, k) => c.prepare(`child-${k}`, `layer-${k}`, ROOT));
    await runPhase(targets, 'Mounts', keys, (c, k) => c.mounts(`child-${k}`));
    await runPhase(targets, 'Stat', keys, (c, k) => c.stat(`layer-${k}`));
    await runPhase(targets, 'View', keys, (c, k) => c.view(`view-${k}`, `layer-${k}`, ROOT));
    await runPhase(targets, `List (${COUNT * 4} snapshots)`, keys.slice(0, 20), async (c) => {
      for await (const _ of c.list()) void _;
    });
    await runPhase(targets, 'Remove', keys, async (c, k) => c.remove(`view-${k}`));

    const rows = comparisonRows(targets[0], targets[1], targets[0], targets[1], 3);
    const throughput = [];
    for (const target of targets) throughput.push(await concurrentThroughput(target, 'conc', COUNT * 2));
    rows.push([`${CONCURRENCY}-way Prepare+Commit (ops/s)`, throughput[0].toFixed(0), '', throughput[1].toFixed(0), '', (throughput[0] / throughput[1]).toFixed(2)]);
    console.log(`\nSnapshot API latency, ${COUNT} snapshots per phase`);
    printTable(rows);
    for (const target of targets) target.client.close();

    await scaleCheck(dir);
  } finally {
    if (strata) {
      strata.child.kill('SIGTERM');
      await strata.exited;
    }
    await containerd.stop();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/**
 * On a fresh server: Prepare latency with 100 and with SCALE snapshots
 * present, and the server's resident memory while a List streams them all.
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
    let existing = 0;
    const rows = [['snapshots present', 'Prepare median ms', 'server RSS MB before List', 'peak during List']];
    for (const size of [100, SCALE]) {
      for (; existing < size; existing++) await client.prepare(`scale-${existing}`);
      const samples = [];
      for (let i = 0; i < 200; i++) samples.push(await timeMs(() => client.prepare(`probe-${size}-${i}`)));
      existing += 200;
      const before = await rss();
      let peak = before;
      let listed = 0;
      for await (const _ of client.list()) if (++listed % 500 === 0) peak = Math.max(peak, await rss());
      rows.push([String(listed), median(samples).toFixed(3), before.toFixed(0), peak.toFixed(0)]);
    }
    console.log(`\nScale: Prepare latency and List memory as the store grows`);
    printTable(rows);
  } finally {
    client.close();
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
