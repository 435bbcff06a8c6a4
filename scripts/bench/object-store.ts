/**
 * Object store benchmark: two images built offline from the same Debian
 * rootfs (debootstrap minbase bookworm), each a base layer plus an app
 * layer. Image B's base is image A's with every mtime a day later (same
 * contents, another digest, as a rebuilt base is); the app layers share one
 * 64 MiB file and differ in the rest. Unpacked in-process as containerd does
 * with strata's differ (Prepare, Apply, Commit per layer), in plain and in
 * object mode, alternating which goes first, each run in a fresh root on the
 * file system a real root would use, page cache dropped before each image.
 *
 * Goals (the issue's): disk used by image B in object mode at most 10% of
 * plain mode's; unpack at most 1.1x plain mode's time; two containers of
 * the two images reading the shared file fill the page cache with it once.
 *
 *   node dist/scripts/bench/object-store.js [runs]
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { createOverlayBackend, type ObjectStoreSetting, type OverlayBackend } from '../../src/backends/overlay';
import { applyLayer, compareTrees, writeLayer } from '../../src/changeset';
import { encodeHeader, padding } from '../../src/changeset/tar-header';
import { TarReader } from '../../src/changeset/tar-reader';
import { applyToMounts } from '../../src/diff/apply-layer';
import { diskUsage } from '../../src/fsutil/usage';
import { withMounts } from '../../src/mount';
import { objectName } from '../../src/objects/names';
import { Snapshotter } from '../../src/snapshots/snapshotter';
import { MetaStore } from '../../src/store/metastore';
import { CACHE, dropCaches, ensureRootfs, ROOTFS, sh } from './rootfs';
import { reportFileSystemFloor } from './object-store-floor';
import { mountScratchFileSystem } from './scratch-fs';
import { median, printTable, timeMs } from './stats';

/** Built once and reused: the four layer tars. */
const LAYERS = path.join(CACHE, 'object-store');
/** Where the journaled ext4 the roots go on is mounted (see scratch-fs.ts). */
const WORK = '/var/tmp/strata-bench-object-store';
const MiB = 1 << 20;
const SHARED_FILE = 'opt/app/data.bin';
const SHARED_BYTES = 64 * MiB;
/** Besides the shared file, in each app layer. */
const APP_FILES = 19;
const DAY_NS = 86_400n * 1_000_000_000n;
const MODES = ['off', 'on'] as const satisfies ObjectStoreSetting[];
type Mode = (typeof MODES)[number];

const runs = Number(process.argv[2] ?? 3);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`runs must be a positive integer, got ${process.argv[2]}`);

interface Image {
  name: string;
  /** gzip-compressed layer tars, base first. */
  layers: string[];
}

/**
 * Incompressible and the same on every build, so the name of its object is
 * known without reading a layer: AES-CTR over zeros with a fixed key.
 */
function* sharedContent(): Generator<Buffer> {
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16), Buffer.alloc(16));
  for (let written = 0; written < SHARED_BYTES; written += MiB) yield cipher.update(Buffer.alloc(MiB));
}

function sharedDigest(): Buffer {
  const hash = createHash('sha256');
  for (const chunk of sharedContent()) hash.update(chunk);
  return hash.digest();
}

/** Writes `tar` through a partial file, so an interrupted build is not taken for a cached one. */
async function buildOnce(tar: string, build: (partial: string) => Promise<void> | void): Promise<void> {
  if (fs.existsSync(tar)) return;
  console.log(`building ${tar} (once)...`);
  const partial = `${tar}.partial`;
  await build(partial);
  fs.renameSync(partial, tar);
}

async function treeLayer(dir: string, tar: string): Promise<void> {
  const empty = fs.mkdtempSync(path.join(LAYERS, 'empty-'));
  try {
    await pipeline(writeLayer(compareTrees(empty, dir), { compression: 'none' }), fs.createWriteStream(tar));
  } finally {
    fs.rmdirSync(empty);
  }
}

/** A file's chunks for TarReader, which pulls synchronously. */
function* fileChunks(file: string): Generator<Buffer> {
  const fd = fs.openSync(file, 'r');
  try {
    for (;;) {
      const chunk = Buffer.allocUnsafe(MiB);
      const read = fs.readSync(fd, chunk);
      if (read === 0) return;
      yield chunk.subarray(0, read);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** `from` with every entry's mtime a day later: what rebuilding the same base gives. */
function shiftMtimes(from: string, to: string): void {
  const reader = new TarReader(fileChunks(from));
  const out = fs.openSync(to, 'w');
  try {
    for (let header = reader.next(); header; header = reader.next()) {
      fs.writeSync(out, encodeHeader({ ...header, mtimeNs: header.mtimeNs + DAY_NS }));
      for (let body = reader.readBody(); body; body = reader.readBody()) fs.writeSync(out, body);
      fs.writeSync(out, padding(header.size));
    }
    fs.writeSync(out, Buffer.alloc(1024));
  } finally {
    fs.closeSync(out);
  }
}

/** The shared file and APP_FILES small files of random content that only this app has. */
async function appLayer(variant: string, tar: string): Promise<void> {
  const dir = fs.mkdtempSync(path.join(LAYERS, `app-${variant}-`));
  try {
    const app = path.join(dir, path.dirname(SHARED_FILE));
    fs.mkdirSync(app, { recursive: true });
    await pipeline(Readable.from(sharedContent()), fs.createWriteStream(path.join(dir, SHARED_FILE)));
    for (let i = 0; i < APP_FILES; i++) {
      fs.writeFileSync(path.join(app, `${variant}-${i}.dat`), randomBytes((i + 1) * 8 * 1024));
    }
    await treeLayer(dir, tar);
  } finally {
    fs.rmSync(dir, { recursive: true });
  }
}

async function buildImages(): Promise<[Image, Image]> {
  ensureRootfs();
  fs.mkdirSync(LAYERS, { recursive: true });
  const [baseA, baseB, appA, appB] = ['base-a', 'base-b', 'app-a', 'app-b'].map((name) => path.join(LAYERS, `${name}.tar`));
  await buildOnce(baseA, (partial) => treeLayer(ROOTFS, partial));
  await buildOnce(baseB, (partial) => shiftMtimes(baseA, partial));
  await buildOnce(appA, (partial) => appLayer('a', partial));
  await buildOnce(appB, (partial) => appLayer('b', partial));
  const gzipped = await Promise.all([baseA, appA, baseB, appB].map(async (tar) => {
    await buildOnce(`${tar}.gz`, (partial) => pipeline(fs.createReadStream(tar), createGzip(), fs.createWriteStream(partial)));
    return `${tar}.gz`;
  }));
  return [{ name: 'a', layers: gzipped.slice(0, 2) }, { name: 'b', layers: gzipped.slice(2) }];
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: MiB })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

interface Strata {
  root: string;
  backend: OverlayBackend;
  snapshotter: Snapshotter;
  close(): Promise<void>;
}

async function openStrata(root: string, objectStore: Mode): Promise<Strata> {
  const store = MetaStore.open(path.join(root, 'metadata'));
  const backend = await createOverlayBackend({ root, objectStore, store });
  const snapshotter = new Snapshotter(store, backend, { syncRemove: false });
  return { root, backend, snapshotter, close: () => backend.close().then(() => store.close()) };
}

/** What strata's Diff service Apply runs, per layer between Prepare and Commit; returns the top layer's name. */
async function unpack(strata: Strata, image: Image): Promise<string> {
  let parent = '';
  for (const [i, layer] of image.layers.entries()) {
    const key = `${image.name}-extract-${i}`;
    const mounts = await strata.snapshotter.prepare(key, parent, {});
    await applyToMounts(fs.createReadStream(layer, { highWaterMark: MiB }), mounts, { strataRoot: strata.root, writeObjects: true });
    await strata.snapshotter.commit(`${image.name}-${i}`, key, {});
    parent = `${image.name}-${i}`;
  }
  return parent;
}

async function coldUnpack(strata: Strata, image: Image): Promise<{ top: string; ms: number }> {
  dropCaches();
  let top = '';
  const ms = await timeMs(async () => (top = await unpack(strata, image)));
  return { top, ms };
}

/** Bytes allocated under the root, once delayed allocation has put the last writes on disk. */
async function allocated(root: string): Promise<number> {
  sh('sync', []);
  return (await diskUsage(root)).size;
}

/** The files holding the shared file's data: its object in object mode, each app layer's own copy in plain mode. */
function sharedCopies(root: string, digest: Buffer): string[] {
  const snapshots = path.join(root, 'snapshots');
  const candidates = [
    path.join(root, 'objects', objectName(digest)),
    ...fs.readdirSync(snapshots).map((id) => path.join(snapshots, id, 'fs', SHARED_FILE)),
  ];
  return candidates.filter((file) => fs.existsSync(file) && fs.statSync(file).blocks > 0);
}

function cachedBytes(files: string[]): number {
  return sh('fincore', ['--bytes', '--noheadings', '--output', 'RES', ...files])
    .trim().split('\n').reduce((sum, line) => sum + Number(line), 0);
}

/**
 * Page cache each container's first read of the shared file adds, read
 * through container A's mount and then container B's, both mounted at once
 * as two running containers would be.
 */
async function pageCacheGrowth(strata: Strata, topA: string, topB: string, digest: Buffer): Promise<number[]> {
  const copies = sharedCopies(strata.root, digest);
  const containerA = await strata.snapshotter.prepare('container-a', topA, {});
  const containerB = await strata.snapshotter.prepare('container-b', topB, {});
  return withMounts(containerA, (dirA) => withMounts(containerB, async (dirB) => {
    dropCaches();
    const growth = [];
    for (const dir of [dirA, dirB]) {
      const before = cachedBytes(copies);
      sh('dd', [`if=${path.join(dir, SHARED_FILE)}`, 'of=/dev/null', `bs=${MiB}`, 'status=none']);
      growth.push(cachedBytes(copies) - before);
    }
    return growth;
  }));
}

interface Sample {
  unpackMs: number[];
  /** Bytes the root grew by unpacking image B after image A. */
  diskB: number;
  /** Bytes of page cache added by the read through container A, then B. */
  cacheGrowth: number[];
  objects: { objects: number; bytes: number };
}

async function measure(mode: Mode, images: Image[], digest: Buffer): Promise<Sample> {
  const root = fs.mkdtempSync(path.join(WORK, `root-${mode}-`));
  const strata = await openStrata(root, mode);
  try {
    const a = await coldUnpack(strata, images[0]);
    const afterA = await allocated(root);
    const b = await coldUnpack(strata, images[1]);
    const diskB = (await allocated(root)) - afterA;
    const { objectStore } = await strata.backend.status();
    if (objectStore.mode !== mode) throw new Error(`asked for object_store "${mode}", the backend runs "${objectStore.mode}"`);
    const cacheGrowth = await pageCacheGrowth(strata, a.top, b.top, digest);
    return { unpackMs: [a.ms, b.ms], diskB, cacheGrowth, objects: { objects: objectStore.objects, bytes: objectStore.bytes } };
  } finally {
    await strata.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const ratio = (object: number, plain: number) => (object / plain).toFixed(2);

function report(samples: Record<Mode, Sample[]>): void {
  const med = (mode: Mode, pick: (s: Sample) => number) => median(samples[mode].map(pick));
  const row = (label: string, pick: (s: Sample) => number, show: (x: number) => string, goal = '') => {
    const [plain, object] = MODES.map((mode) => med(mode, pick));
    return [label, show(plain), show(object), ratio(object, plain), goal];
  };
  const { objects, bytes } = samples.on[0].objects;
  printTable([
    ['median', 'plain', 'object', 'object/plain', 'goal'],
    row('unpack image A (ms)', (s) => s.unpackMs[0], (x) => x.toFixed(0), '<= 1.10'),
    row('unpack image B (ms)', (s) => s.unpackMs[1], (x) => x.toFixed(0), '<= 1.10'),
    row('disk used by image B (MiB)', (s) => s.diskB, mib, '<= 0.10'),
    row('page cache, read via container A (MiB)', (s) => s.cacheGrowth[0], mib),
    row('page cache, read via container B (MiB)', (s) => s.cacheGrowth[1], mib, 'object ~0'),
  ]);
  console.log(`\nobject store after both images: ${objects} objects, ${mib(bytes)} MiB of content`);
}

async function main(): Promise<void> {
  const images = await buildImages();
  const scratch = mountScratchFileSystem(WORK, '16G');
  try {
    const digest = sharedDigest();
    // The apply thread is started once per process; a long-running server has it already.
    await applyLayer(Readable.from([Buffer.alloc(1024)]), fs.mkdtempSync(path.join(WORK, 'warm-')), { mode: 'directory' });

    console.log(`${os.cpus()[0].model}, ${os.cpus().length} cores, Linux ${os.release()}, ${new Date().toISOString()}`);
    console.log(`roots in ${WORK} (${scratch.describe()}); ${runs} runs, page cache dropped before each unpack and each pair of reads`);
    for (const image of images) {
      for (const layer of image.layers) console.log(`image ${image.name}: ${path.basename(layer)} ${mib(fs.statSync(layer).size)} MiB ${await sha256File(layer)}`);
    }

    const samples: Record<Mode, Sample[]> = { off: [], on: [] };
    for (let run = 0; run < runs; run++) {
      const order = run % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) {
        const s = await measure(mode, images, digest);
        samples[mode].push(s);
        console.log(`run ${run + 1} ${mode === 'on' ? 'object' : 'plain '}: unpack A ${s.unpackMs[0].toFixed(0)} ms, B ${s.unpackMs[1].toFixed(0)} ms; disk B ${mib(s.diskB)} MiB; cache A ${mib(s.cacheGrowth[0])} MiB, B ${mib(s.cacheGrowth[1])} MiB`);
      }
    }
    console.log('');
    report(samples);
    reportFileSystemFloor(WORK, runs);
  } finally {
    scratch.remove();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
