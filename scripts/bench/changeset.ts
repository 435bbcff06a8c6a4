/**
 * Changeset benchmark: applying a realistic layer (debootstrap minbase
 * bookworm, ~6,800 entries) with strata's applyLayer, GNU tar -x and
 * containerd 1.7's own unpack (built-in overlayfs snapshotter, walking
 * differ: `ctr snapshots unpack` of an image imported beforehand with
 * --no-unpack, so the content ingest is timed apart), plain and gzip; and
 * the diff of an overlay snapshot with 100 changed files: upper dir fast
 * path, full tree compare, and containerd's walking differ (`ctr snapshots
 * diff`). Page cache dropped before every timed run, implementations
 * alternating; medians and ratios. The containerd timings include starting
 * `ctr` (its cold start is printed apart).
 *
 *   node dist/scripts/bench/changeset.js [runs]
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer } from '../../src/changeset/applier';
import { compareTrees } from '../../src/changeset/compare';
import { overlayUpperChanges } from '../../src/changeset/overlay-upper';
import { writeLayer } from '../../src/changeset/writer';
import type { Change } from '../../src/changeset/change';
import { startContainerd, type Containerd } from '../../test/support/containerd';
import { CACHE, dropCaches, ensureRootfs, ROOTFS, sh } from './rootfs';
import { median, timeMs } from './stats';

const WORK = '/var/tmp/strata-bench-work';
const runs = Number(process.argv[2] ?? 5);

function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  // Writeback of the previous run would otherwise land in this one.
  dropCaches();
  return timeMs(async () => fn());
}

async function discard(changes: AsyncIterable<Change>): Promise<void> {
  await pipeline(writeLayer(changes, { compression: 'none' }), new Writable({ write: (_c, _e, cb) => cb() }));
}

async function prepareLayers(): Promise<{ tar: string; gz: string }> {
  ensureRootfs();
  const tar = path.join(CACHE, 'layer.tar');
  const gz = path.join(CACHE, 'layer.tar.gz');
  if (!fs.existsSync(tar)) {
    const empty = fs.mkdtempSync(path.join(WORK, 'empty-'));
    await pipeline(writeLayer(compareTrees(empty, ROOTFS), { compression: 'none' }), fs.createWriteStream(tar));
    fs.rmdirSync(empty);
  }
  if (!fs.existsSync(gz)) await pipeline(writeLayer(compareTrees(fs.mkdtempSync(path.join(WORK, 'empty-')), ROOTFS), { compression: 'gzip' }), fs.createWriteStream(gz));
  return { tar, gz };
}

interface Row {
  label: string;
  /** Median milliseconds per implementation; absent when not measured. */
  strata: number;
  tar?: number;
  containerd?: number;
  /** The diff case compares two strata paths. */
  strataFull?: number;
}

const OCI = {
  layout: '{"imageLayoutVersion":"1.0.0"}',
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: { tar: 'application/vnd.oci.image.layer.v1.tar', gz: 'application/vnd.oci.image.layer.v1.tar+gzip' },
};

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * A one-layer OCI image archive holding exactly `layer` (not a re-packed
 * copy, so containerd unpacks the same bytes): the layout is written around
 * a hard link to the blob and packed with tar, streaming. Returns the
 * manifest digest for `ctr snapshots unpack`.
 */
async function ociImage(layer: string, mediaType: string, diffId: string, name: string): Promise<{ archive: string; manifest: string }> {
  const archive = `${layer}.oci.tar`;
  const manifestFile = `${archive}.manifest`;
  if (fs.existsSync(archive) && fs.existsSync(manifestFile)) return { archive, manifest: fs.readFileSync(manifestFile, 'utf8') };
  const dir = fs.mkdtempSync(path.join(WORK, 'oci-'));
  const blobs = path.join(dir, 'blobs/sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const blob = (data: string) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    fs.writeFileSync(path.join(blobs, digest.slice(7)), data);
    return { digest, size: Buffer.byteLength(data) };
  };
  const layerDigest = await sha256File(layer);
  fs.linkSync(layer, path.join(blobs, layerDigest.slice(7)));
  const config = blob(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffId] } }));
  const manifest = blob(JSON.stringify({
    schemaVersion: 2, mediaType: OCI.manifest,
    config: { mediaType: OCI.config, ...config },
    layers: [{ mediaType, digest: layerDigest, size: fs.statSync(layer).size }],
  }));
  fs.writeFileSync(path.join(dir, 'oci-layout'), OCI.layout);
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2, mediaType: OCI.index,
    manifests: [{ mediaType: OCI.manifest, ...manifest, annotations: { 'io.containerd.image.name': name } }],
  }));
  sh('tar', ['-cf', archive, '-C', dir, '.']);
  fs.rmSync(dir, { recursive: true });
  fs.writeFileSync(manifestFile, manifest.digest);
  return { archive, manifest: manifest.digest };
}

const SNAPSHOTTER = 'overlayfs';

/** containerd removes a snapshot's directory in its garbage collector, later: wait for it so it does not overlap a timed run. */
async function removeSnapshot(ctd: Containerd, key: string): Promise<void> {
  await ctd.ctr(['snapshots', '--snapshotter', SNAPSHOTTER, 'rm', key]);
  const dir = path.join(WORK, 'ctd/root/io.containerd.snapshotter.v1.overlayfs/snapshots');
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    if (!fs.existsSync(dir) || fs.readdirSync(dir).length === 0) return;
    // Deleting a lease with --sync runs a collection now: containerd 1.7 drops
    // a scheduled pass requested while another one runs.
    const lease = `bench-gc-${process.hrtime.bigint()}`;
    await ctd.ctrOk(['leases', 'create', '--id', lease]);
    await ctd.ctrOk(['leases', 'rm', '--sync', lease]);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`containerd did not remove the snapshots under ${dir}`);
}

async function benchApply(ctd: Containerd, file: string, image: { manifest: string }, diffId: string, label: string): Promise<Row> {
  const ours: number[] = [];
  const gnu: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = path.join(WORK, 'x-strata');
    const b = path.join(WORK, 'x-gnu');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    ours.push(await timed(() => applyLayer(fs.createReadStream(file, { highWaterMark: 1 << 20 }), a, { mode: 'directory' })));
    gnu.push(await timed(() => sh('tar', ['--xattrs', '--xattrs-include=*', '-xf', file, '-C', b])));
    theirs.push(await timed(() => ctd.ctrOk(['snapshots', '--snapshotter', SNAPSHOTTER, 'unpack', image.manifest], { timeoutMs: 300_000 })));
    fs.rmSync(a, { recursive: true });
    fs.rmSync(b, { recursive: true });
    await removeSnapshot(ctd, diffId);
  }
  return { label, strata: median(ours), tar: median(gnu), containerd: median(theirs) };
}

async function benchDiff(ctd: Containerd, diffId: string, image: { manifest: string }): Promise<Row> {
  const dir = path.join(WORK, 'ovl');
  const [upper, work, merged] = ['u', 'w', 'm'].map((n) => path.join(dir, n));
  [upper, work, merged].forEach((d) => fs.mkdirSync(d, { recursive: true }));
  const changed = (root: string) => sh('find', [path.join(root, 'usr/share/doc'), '-type', 'f']).trim().split('\n').sort().slice(0, 100);
  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${ROOTFS},upperdir=${upper},workdir=${work}`, merged]);
  try {
    const files = changed(merged);
    for (const f of files) fs.appendFileSync(f, 'changed\n');

    // The same change in a containerd overlayfs snapshot over the same layer.
    await ctd.ctrOk(['snapshots', '--snapshotter', SNAPSHOTTER, 'unpack', image.manifest], { timeoutMs: 300_000 });
    await ctd.ctrOk(['snapshots', '--snapshotter', SNAPSHOTTER, 'prepare', 'bench-active', diffId]);
    const ctdMerged = path.join(dir, 'cm');
    fs.mkdirSync(ctdMerged);
    const mounts = await ctd.ctrOk(['snapshots', '--snapshotter', SNAPSHOTTER, 'mounts', ctdMerged, 'bench-active']);
    sh('sh', ['-c', mounts]);
    try {
      for (const f of changed(ctdMerged)) fs.appendFileSync(f, 'changed\n');
    } finally {
      sh('umount', [ctdMerged]);
    }

    const fast: number[] = [];
    const full: number[] = [];
    const theirs: number[] = [];
    for (let i = 0; i < runs; i++) {
      fast.push(await timed(async () => discard((await overlayUpperChanges(upper, [ROOTFS]))!)));
      full.push(await timed(() => discard(compareTrees(ROOTFS, merged))));
      theirs.push(await timed(() => ctd.ctrOk(['snapshots', '--snapshotter', SNAPSHOTTER, 'diff', '--media-type', OCI.layer.tar, 'bench-active'], { timeoutMs: 300_000 })));
    }
    await ctd.ctr(['snapshots', '--snapshotter', SNAPSHOTTER, 'rm', 'bench-active']);
    await removeSnapshot(ctd, diffId);
    return { label: `diff, ${files.length} changed files`, strata: median(fast), strataFull: median(full), containerd: median(theirs) };
  } finally {
    sh('umount', [merged]);
    fs.rmSync(dir, { recursive: true });
  }
}

const ms = (x?: number) => (x === undefined ? '' : x.toFixed(0));
const ratio = (a: number, b?: number) => (b === undefined ? '' : (a / b).toFixed(2));

async function main(): Promise<void> {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const ctd = await startContainerd({ dir: path.join(WORK, 'ctd') });
  try {
    const { tar, gz } = await prepareLayers();
    const diffId = await sha256File(tar);
    const images = {
      tar: await ociImage(tar, OCI.layer.tar, diffId, 'strata.bench/minbase:tar'),
      gz: await ociImage(gz, OCI.layer.gz, diffId, 'strata.bench/minbase:gzip'),
    };
    const ingest: string[] = [];
    for (const [kind, image] of Object.entries(images)) {
      const t = await timed(() => ctd.ctrOk(['images', 'import', '--no-unpack', '--local', image.archive], { timeoutMs: 300_000 }));
      ingest.push(`${kind} ${t.toFixed(0)} ms`);
    }
    const ctrStart = [];
    for (let i = 0; i < runs; i++) ctrStart.push(await timed(() => ctd.ctrOk(['version'])));
    // A long-running server has its apply thread started already; start it here too.
    await applyLayer(Readable.from([Buffer.alloc(1024)]), fs.mkdtempSync(path.join(WORK, 'warm-')), { mode: 'directory' });

    const files = Number(sh('sh', ['-c', `find ${ROOTFS} | wc -l`]));
    console.log(`layer: ${files} entries, ${(fs.statSync(tar).size / 1e6).toFixed(0)} MB tar, ${(fs.statSync(gz).size / 1e6).toFixed(0)} MB gzip; ${runs} runs each, page cache dropped before each run`);
    console.log(`containerd content ingest (ctr images import --no-unpack, not in the table): ${ingest.join(', ')}; cold \`ctr version\` median ${ms(median(ctrStart))} ms (included in containerd's times)\n`);
    const rows = [
      await benchApply(ctd, tar, images.tar, diffId, 'apply, uncompressed'),
      await benchApply(ctd, gz, images.gz, diffId, 'apply, gzip'),
      await benchDiff(ctd, diffId, images.tar),
    ];
    console.log('| case | strata (ms) | GNU tar -x (ms) | strata full compare (ms) | containerd 1.7 (ms) | strata/GNU tar | strata/containerd |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.label} | ${ms(r.strata)} | ${ms(r.tar)} | ${ms(r.strataFull)} | ${ms(r.containerd)} | ${ratio(r.strata, r.tar)} | ${ratio(r.strata, r.containerd)} |`);
    }
    console.log('\napply: strata = applyLayer into a directory; containerd = ctr snapshots unpack (overlayfs snapshotter, walking differ).');
    console.log('diff: strata = overlay upper-dir fast path (full compare in its own column); containerd = ctr snapshots diff (walking differ, uncompressed, into its content store).');
  } finally {
    await ctd.stop();
    fs.rmSync(WORK, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
