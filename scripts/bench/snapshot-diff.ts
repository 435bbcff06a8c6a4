/**
 * `ctr snapshots diff` as a user runs it, the whole command through
 * containerd 1.7: strata as snapshotter and differ (proxy plugins) against
 * containerd's overlayfs snapshotter with its walking differ. Each side
 * unpacks the same one-layer image of the minbase rootfs, prepares an
 * active snapshot on it and, through its mounts, modifies 100 files, adds
 * 10 and deletes 10; then `ctr snapshots diff` of that snapshot
 * (uncompressed) is timed, page cache dropped before each run, sides
 * alternating. The time includes starting `ctr` and containerd's own work
 * (lease, View, Mounts, the differ's content write, Remove), as the user
 * sees it; strata's share is read from its call metrics.
 *
 *   node dist/scripts/bench/snapshot-diff.js [--runs 5]
 */
import fs from 'node:fs';
import path from 'node:path';
import { splitDevice } from '../../src/changeset/file-info';
import { startContainerd, type Containerd } from '../../test/support/containerd';
import { startStrataWithContainerd } from '../../test/support/strata-with-containerd';
import { numberArg } from './args';
import { minbaseImage, minbaseLayers, OCI, sha256File } from './minbase-image';
import { dropCaches, sh } from './rootfs';
import { median, printTable, timeMs } from './stats';

const RUNS = numberArg('runs', 5);
const WORK = '/var/tmp/strata-bench-snapshot-diff';
const IMAGE = 'strata.bench/minbase:tar';
/** strata's differ is not told the caller's namespace (containerd issue 12328), so both sides use this one. */
const NAMESPACE = 'bench';
const ACTIVE = 'bench-active';
const TIMEOUT_MS = 300_000;
/** The change: files modified, added and deleted in the active snapshot. */
const CHANGES = { modified: 100, added: 10, deleted: 10 };

/** strata's server-side seconds per method, from its Prometheus endpoint. */
type CallSeconds = Map<string, number>;

interface Side {
  label: string;
  snapshotter: string;
  containerd: Containerd;
  /** strata's call time so far (undefined for containerd's side). */
  callSeconds?: () => Promise<CallSeconds>;
  stop(): Promise<void>;
}

/** Reads completed by the block device holding `dir` (its sysfs stat), to count what a cold run reads. */
function diskReads(dir: string): number {
  const { major, minor } = splitDevice(fs.statSync(dir, { bigint: true }).dev);
  return Number(fs.readFileSync(`/sys/dev/block/${major}:${minor}/stat`, 'utf8').trim().split(/\s+/)[0]);
}

const ctr = (side: Side, args: string[]) => side.containerd.ctrOk(['-n', NAMESPACE, ...args], { timeoutMs: TIMEOUT_MS });

async function startStrataSide(dir: string): Promise<Side> {
  fs.mkdirSync(dir, { recursive: true });
  const { containerd, metrics, stop } = await startStrataWithContainerd(dir, NAMESPACE);
  return {
    label: 'strata (snapshotter and differ)',
    snapshotter: 'strata',
    containerd,
    async callSeconds() {
      const text = await metrics();
      const seconds: CallSeconds = new Map();
      for (const match of text.matchAll(/^strata_grpc_request_duration_seconds_sum\{service="(\w+)",method="(\w+)"\} (\S+)$/gm)) {
        seconds.set(`${match[1]}.${match[2]}`, Number(match[3]));
      }
      return seconds;
    },
    stop,
  };
}

async function startContainerdSide(dir: string): Promise<Side> {
  const containerd = await startContainerd({ dir });
  return { label: 'containerd (overlayfs, walking differ)', snapshotter: 'overlayfs', containerd, stop: () => containerd.stop() };
}

/** Unpacks the image into the side's snapshotter and makes the change in an active snapshot on it. */
async function prepareChange(side: Side, image: string, chainId: string, mountPoint: string): Promise<void> {
  await ctr(side, ['images', 'import', '--snapshotter', side.snapshotter, image]);
  await ctr(side, ['snapshots', '--snapshotter', side.snapshotter, 'prepare', ACTIVE, chainId]);
  fs.mkdirSync(mountPoint, { recursive: true });
  sh('sh', ['-c', await ctr(side, ['snapshots', '--snapshotter', side.snapshotter, 'mounts', mountPoint, ACTIVE])]);
  try {
    const docs = sh('find', [path.join(mountPoint, 'usr/share/doc'), '-type', 'f']).trim().split('\n').sort();
    if (docs.length < CHANGES.modified + CHANGES.deleted) throw new Error(`only ${docs.length} files under usr/share/doc`);
    for (const file of docs.slice(0, CHANGES.modified)) fs.appendFileSync(file, 'changed\n');
    for (const file of docs.slice(CHANGES.modified, CHANGES.modified + CHANGES.deleted)) fs.rmSync(file);
    for (let i = 0; i < CHANGES.added; i++) fs.writeFileSync(path.join(mountPoint, 'etc', `strata-bench-${i}.conf`), `added ${i}\n`);
  } finally {
    sh('umount', [mountPoint]);
  }
}

/** One timed `ctr snapshots diff`, cold, and the disk reads it took; with strata, how long each of its calls took meanwhile. */
async function timedDiff(side: Side): Promise<{ ms: number; reads: number; calls?: CallSeconds }> {
  dropCaches();
  const before = await side.callSeconds?.();
  const readsBefore = diskReads(WORK);
  const ms = await timeMs(() => ctr(side, ['snapshots', '--snapshotter', side.snapshotter, 'diff', '--media-type', OCI.layer.tar, ACTIVE]));
  const reads = diskReads(WORK) - readsBefore;
  const after = await side.callSeconds?.();
  if (before === undefined || after === undefined) return { ms, reads };
  const calls: CallSeconds = new Map();
  for (const [method, seconds] of after) calls.set(method, seconds - (before.get(method) ?? 0));
  if (!(calls.get('diff.Diff')! > 0)) throw new Error("strata's differ did not serve the diff: containerd fell back to another differ");
  return { ms, reads, calls };
}

async function main(): Promise<void> {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const { tar } = await minbaseLayers();
  // One layer: its chain id is its diff id.
  const chainId = await sha256File(tar);
  const image = await minbaseImage(tar, OCI.layer.tar, chainId, IMAGE);

  const sides: Side[] = [];
  try {
    // Each started inside the try, so a side that fails to start leaves none running.
    sides.push(await startStrataSide(path.join(WORK, 'strata')));
    sides.push(await startContainerdSide(path.join(WORK, 'containerd')));
    const [strata, containerd] = sides;
    for (const side of sides) await prepareChange(side, image.archive, chainId, path.join(WORK, `mnt-${side.snapshotter}`));
    const timings = new Map<Side, number[]>(sides.map((side) => [side, []]));
    const reads = new Map<Side, number[]>(sides.map((side) => [side, []]));
    const strataCalls: CallSeconds[] = [];
    for (let run = 0; run < RUNS; run++) {
      // Who goes first swaps every run.
      for (const side of run % 2 === 0 ? sides : [...sides].reverse()) {
        const timed = await timedDiff(side);
        timings.get(side)!.push(timed.ms);
        reads.get(side)!.push(timed.reads);
        if (timed.calls) strataCalls.push(timed.calls);
      }
    }
    const ctrStart: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      dropCaches();
      ctrStart.push(await timeMs(() => ctr(containerd, ['version'])));
    }

    console.log(`\`ctr snapshots diff\` of ${CHANGES.modified} modified, ${CHANGES.added} added and ${CHANGES.deleted} deleted files over the minbase rootfs, uncompressed, cold, ${RUNS} runs alternating; ms`);
    const containerdMedian = median(timings.get(containerd)!);
    printTable([
      ['side', ...timings.get(strata)!.map((_, i) => `run ${i + 1}`), 'median', 'ratio', 'disk reads'],
      ...sides.map((side) => {
        const ms = timings.get(side)!;
        return [side.label, ...ms.map((x) => x.toFixed(0)), median(ms).toFixed(0), (median(ms) / containerdMedian).toFixed(2), String(median(reads.get(side)!))];
      }),
    ]);
    console.log(`\`ctr version\` from cold: median ${median(ctrStart).toFixed(0)} ms (in both sides' times)`);
    const methods = [...new Set(strataCalls.flatMap((calls) => [...calls].filter(([, s]) => s > 0).map(([m]) => m)))].sort();
    console.log("strata's own time in each run's calls, median ms:");
    printTable([['call', 'ms'], ...methods.map((method) => [method, (median(strataCalls.map((calls) => calls.get(method) ?? 0)) * 1000).toFixed(1)])]);
    const strataMs = strataCalls.map((calls) => [...calls.values()].reduce((sum, s) => sum + s, 0) * 1000);
    const rest = timings.get(strata)!.map((ms, i) => ms - strataMs[i]);
    console.log(`ctr and containerd's own share of strata's runs (the whole less strata's calls): median ${median(rest).toFixed(0)} ms, ${(median(rest) / containerdMedian).toFixed(3)} of containerd's whole`);
  } finally {
    for (const side of sides) await side.stop();
    fs.rmSync(WORK, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
