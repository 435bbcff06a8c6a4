/**
 * `ctr image import` benchmark: content ingest plus unpack of a realistic
 * four-layer gzip image (debootstrap minbase bookworm split by top-level
 * directory: usr, var, etc, the rest), (A) into strata (overlay backend,
 * strata's differ) and (B) into containerd 1.7's own overlayfs snapshotter
 * with the walking differ.
 *
 * Every run gets fresh daemons (nothing left from an earlier import, no
 * garbage collection running behind a timed run), warmed with a small
 * busybox import first, as a long-running daemon would be. Page cache
 * dropped before each timed import; A and B alternate, swapping who goes
 * first each run. Medians and the ratio strata/containerd.
 *
 *   node dist/scripts/bench/import.js [runs]
 */
import fs from 'node:fs';
import path from 'node:path';
import { startContainerd, type Containerd } from '../../test/support/containerd';
import { buildOciImage, busyboxRootfsLayer } from '../../test/support/oci-image';
import { startStrataWithContainerd } from '../../test/support/strata-with-containerd';
import { CACHE, dropCaches, ensureRootfs, ROOTFS, sh } from './rootfs';
import { median, printTable, timeMs } from './stats';

/** Shared with changeset.ts, which builds the rootfs there too. */
const IMAGE_TAR = path.join(CACHE, 'import-minbase-4-layers.oci.tar');
const IMAGE = 'strata.bench/minbase-layers:1';
const WARM_IMAGE = 'strata.bench/busybox:1';
/** On disk like the cache: both snapshotters write where a real containerd would. */
const WORK = '/var/tmp/strata-bench-import';
/** strata's differ is not told the caller's namespace (containerd issue 12328), so both sides use this one. */
const NAMESPACE = 'bench';
/** Top-level directories of the first three layers; every other top-level entry goes into the fourth. */
const LAYER_GROUPS = [['usr'], ['var'], ['etc']];
const IMPORT_TIMEOUT_MS = 600_000;

const runs = Number(process.argv[2] ?? 3);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer, got ${process.argv[2]}`);


/**
 * One layer root per group holding read-only bind mounts of the rootfs's
 * directories (no copy, and unlike hard links no change to the rootfs's link
 * counts, which changeset.ts's layer would pick up). /dev stays an empty
 * directory: its device nodes are not layer material, the runtime mounts /dev.
 */
function stageLayerRoots(stage: string): string[] {
  const grouped = new Set(LAYER_GROUPS.flat());
  const rest = fs.readdirSync(ROOTFS).filter((name) => !grouped.has(name)).sort();
  return [...LAYER_GROUPS, rest].map((names, i) => {
    const root = path.join(stage, String(i));
    fs.mkdirSync(root, { recursive: true });
    for (const name of names) {
      const source = path.join(ROOTFS, name);
      const target = path.join(root, name);
      const st = fs.lstatSync(source);
      if (st.isSymbolicLink()) {
        fs.symlinkSync(fs.readlinkSync(source), target);
      } else if (st.isDirectory()) {
        fs.mkdirSync(target);
        fs.chmodSync(target, st.mode & 0o7777);
        if (name !== 'dev') sh('mount', ['--bind', '-o', 'ro', source, target]);
      } else {
        fs.copyFileSync(source, target);
      }
    }
    return root;
  });
}

async function buildImage(): Promise<void> {
  if (fs.existsSync(IMAGE_TAR)) return;
  ensureRootfs();
  console.log(`building ${IMAGE_TAR} (once)...`);
  const stage = path.join(WORK, 'stage');
  try {
    const roots = stageLayerRoots(stage);
    const partial = `${IMAGE_TAR}.partial`;
    await buildOciImage({ name: IMAGE, layers: roots.map((dir) => ({ dir, compression: 'gzip' })) }, partial);
    fs.renameSync(partial, IMAGE_TAR);
  } finally {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const mountPoint = line.split(' ')[4];
      if (mountPoint?.startsWith(`${stage}/`)) sh('umount', [mountPoint]);
    }
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** Daemons serving one run; `appliedLayers` counts the layers the expected differ applied. */
interface Daemons {
  containerd: Containerd;
  appliedLayers(): Promise<number>;
  stop(): Promise<void>;
}

interface Side {
  label: string;
  snapshotter: string;
  start(dir: string): Promise<Daemons>;
}

const strataSide: Side = {
  label: 'strata (overlay backend, strata differ)',
  snapshotter: 'strata',
  async start(dir) {
    const { containerd, diffCalls, stop } = await startStrataWithContainerd(dir, NAMESPACE);
    // A differ answering Unimplemented would hand the layer to walking unnoticed; strata's own count proves it applied.
    return { containerd, appliedLayers: () => diffCalls('Apply'), stop };
  },
};

const containerdSide: Side = {
  label: 'containerd 1.7 (overlayfs, walking differ)',
  snapshotter: 'overlayfs',
  async start(dir) {
    const containerd = await startContainerd({ dir: path.join(dir, 'c') });
    return {
      containerd,
      // Only walking is configured; every committed snapshot is a layer it applied.
      async appliedLayers() {
        const out = await containerd.ctrOk(['-n', NAMESPACE, 'snapshots', '--snapshotter', 'overlayfs', 'ls']);
        return out.split('\n').filter((l) => /\sCommitted\s*$/.test(l)).length;
      },
      stop: () => containerd.stop(),
    };
  },
};

const importImage = (containerd: Containerd, snapshotter: string, tar: string) =>
  containerd.ctrOk(['-n', NAMESPACE, 'images', 'import', '--snapshotter', snapshotter, tar], { timeoutMs: IMPORT_TIMEOUT_MS });

/** Fresh daemons, a warm-up import, then the timed import of the benchmark image. */
async function timedImport(side: Side, warmTar: string, expectedLayers: number): Promise<number> {
  const dir = fs.mkdtempSync(path.join(WORK, 'run-'));
  try {
    const daemons = await side.start(dir);
    try {
      await importImage(daemons.containerd, side.snapshotter, warmTar);
      dropCaches();
      const ms = await timeMs(() => importImage(daemons.containerd, side.snapshotter, IMAGE_TAR));
      const applied = await daemons.appliedLayers();
      if (applied !== expectedLayers) throw new Error(`${side.label}: ${applied} layers applied, expected ${expectedLayers}`);
      return ms;
    } finally {
      await daemons.stop();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  try {
    await buildImage();
    const warmTar = path.join(WORK, 'warm.oci.tar');
    await buildOciImage({ name: WARM_IMAGE, layers: [busyboxRootfsLayer({ compression: 'gzip' })] }, warmTar);
    // The warm-up layer plus the image's four.
    const expectedLayers = 1 + LAYER_GROUPS.length + 1;

    const sides = [strataSide, containerdSide];
    const samples = new Map<Side, number[]>(sides.map((s) => [s, []]));
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const ms = await timedImport(side, warmTar, expectedLayers);
        samples.get(side)!.push(ms);
        console.log(`run ${i + 1}: ${side.label} ${ms.toFixed(0)} ms`);
      }
    }

    const entries = Number(sh('sh', ['-c', `find ${ROOTFS} | wc -l`]));
    console.log(`\nimage: ${path.basename(IMAGE_TAR)}, ${(fs.statSync(IMAGE_TAR).size / 1e6).toFixed(0)} MB, 4 gzip layers (usr, var, etc, rest) of a ${entries}-entry minbase rootfs`);
    console.log(`${runs} runs each, fresh daemons per run, page cache dropped before each run; time = ctr images import (ingest + unpack)\n`);
    const strata = median(samples.get(strataSide)!);
    const containerd = median(samples.get(containerdSide)!);
    printTable([
      ['case', 'strata (ms)', 'containerd overlayfs (ms)', 'strata/containerd'],
      ['ctr images import, 4 gzip layers', strata.toFixed(0), containerd.toFixed(0), (strata / containerd).toFixed(2)],
    ]);
  } finally {
    fs.rmSync(WORK, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
