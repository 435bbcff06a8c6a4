/**
 * Changeset benchmark: applying a realistic layer (debootstrap minbase
 * bookworm, ~6,800 entries) with strata's applyLayer, GNU tar -x and
 * containerd 1.7's own unpack (built-in overlayfs snapshotter, walking
 * differ: `ctr snapshots unpack` of an image imported beforehand with
 * --no-unpack, so the content ingest is timed apart), plain and gzip. Page
 * cache dropped before every timed run, implementations alternating;
 * medians and ratios. The containerd timings include starting `ctr` (its
 * cold start is printed apart). The diff is measured through containerd by
 * snapshot-diff.ts.
 *
 *   node dist/scripts/bench/changeset.js [runs]
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer } from '../../src/changeset/applier';
import { startContainerd, type Containerd } from '../../test/support/containerd';
import { minbaseImage, minbaseLayers, OCI, sha256File } from './minbase-image';
import { dropCaches, ROOTFS, sh } from './rootfs';
import { median, timeMs } from './stats';

const WORK = '/var/tmp/strata-bench-work';
const runs = Number(process.argv[2] ?? 5);

function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  // Writeback of the previous run would otherwise land in this one.
  dropCaches();
  return timeMs(async () => fn());
}

interface Row {
  label: string;
  /** Median milliseconds per implementation; absent when not measured. */
  strata: number;
  tar?: number;
  containerd?: number;
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

const ms = (x?: number) => (x === undefined ? '' : x.toFixed(0));
const ratio = (a: number, b?: number) => (b === undefined ? '' : (a / b).toFixed(2));

async function main(): Promise<void> {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const ctd = await startContainerd({ dir: path.join(WORK, 'ctd') });
  try {
    const { tar, gz } = await minbaseLayers();
    const diffId = await sha256File(tar);
    const images = {
      tar: await minbaseImage(tar, OCI.layer.tar, diffId, 'strata.bench/minbase:tar'),
      gz: await minbaseImage(gz, OCI.layer.gz, diffId, 'strata.bench/minbase:gzip'),
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
    ];
    console.log('| case | strata (ms) | GNU tar -x (ms) | containerd 1.7 (ms) | strata/GNU tar | strata/containerd |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const r of rows) {
      console.log(`| ${r.label} | ${ms(r.strata)} | ${ms(r.tar)} | ${ms(r.containerd)} | ${ratio(r.strata, r.tar)} | ${ratio(r.strata, r.containerd)} |`);
    }
    console.log('\napply: strata = applyLayer into a directory; containerd = ctr snapshots unpack (overlayfs snapshotter, walking differ).');
  } finally {
    await ctd.stop();
    fs.rmSync(WORK, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
