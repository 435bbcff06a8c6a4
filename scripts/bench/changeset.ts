/**
 * Changeset benchmark: applying a realistic layer (debootstrap minbase
 * bookworm, ~6,700 files) against GNU tar -x of the same file, plain and
 * gzip; and the diff of an overlay snapshot with 100 changed files, upper
 * dir fast path against the full tree compare. Page cache dropped before
 * every timed run, implementations alternating; medians and ratios.
 *
 *   node dist/scripts/bench/changeset.js [runs]
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer } from '../../src/changeset/applier';
import { compareTrees } from '../../src/changeset/compare';
import { overlayUpperChanges } from '../../src/changeset/overlay-upper';
import { writeLayer } from '../../src/changeset/writer';
import type { Change } from '../../src/changeset/change';

const CACHE = '/var/tmp/strata-bench';
const ROOTFS = path.join(CACHE, 'rootfs');
const WORK = '/var/tmp/strata-bench-work';
const runs = Number(process.argv[2] ?? 5);

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] }).toString();

function dropCaches(): void {
  sh('sync', []);
  fs.writeFileSync('/proc/sys/vm/drop_caches', '3');
}

async function timed(fn: () => Promise<unknown> | unknown): Promise<number> {
  dropCaches();
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function discard(changes: AsyncIterable<Change>): Promise<void> {
  await pipeline(writeLayer(changes, { compression: 'none' }), new Writable({ write: (_c, _e, cb) => cb() }));
}

async function prepareLayers(): Promise<{ tar: string; gz: string }> {
  if (!fs.existsSync(path.join(ROOTFS, 'etc/debian_version'))) {
    console.log(`building ${ROOTFS} with debootstrap (once)...`);
    sh('debootstrap', ['--variant=minbase', 'bookworm', ROOTFS, process.env.DEBIAN_MIRROR ?? '']);
  }
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

type Row = [string, number, number, string, string];

async function benchApply(file: string, label: string): Promise<Row> {
  const ours: number[] = [];
  const gnu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = path.join(WORK, 'x-strata');
    const b = path.join(WORK, 'x-gnu');
    fs.mkdirSync(a);
    fs.mkdirSync(b);
    ours.push(await timed(() => applyLayer(fs.createReadStream(file, { highWaterMark: 1 << 20 }), a, { mode: 'directory' })));
    gnu.push(await timed(() => sh('tar', ['--xattrs', '--xattrs-include=*', '-xf', file, '-C', b])));
    fs.rmSync(a, { recursive: true });
    fs.rmSync(b, { recursive: true });
  }
  return [label, median(ours), median(gnu), 'strata applyLayer', 'GNU tar -x'];
}

async function benchDiff(): Promise<Row> {
  const dir = path.join(WORK, 'ovl');
  const [upper, work, merged] = ['u', 'w', 'm'].map((n) => path.join(dir, n));
  [upper, work, merged].forEach((d) => fs.mkdirSync(d, { recursive: true }));
  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${ROOTFS},upperdir=${upper},workdir=${work}`, merged]);
  try {
    const files = sh('find', [path.join(merged, 'usr/share/doc'), '-type', 'f']).trim().split('\n').slice(0, 100);
    for (const f of files) fs.appendFileSync(f, 'changed\n');
    const fast: number[] = [];
    const full: number[] = [];
    for (let i = 0; i < runs; i++) {
      fast.push(await timed(() => discard(overlayUpperChanges(upper, [ROOTFS]))));
      full.push(await timed(() => discard(compareTrees(ROOTFS, merged))));
    }
    return [`diff, ${files.length} changed files`, median(fast), median(full), 'upper-dir fast path', 'full compare'];
  } finally {
    sh('umount', [merged]);
    fs.rmSync(dir, { recursive: true });
  }
}

async function main(): Promise<void> {
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  try {
    const { tar, gz } = await prepareLayers();
    const files = Number(sh('sh', ['-c', `find ${ROOTFS} | wc -l`]));
    console.log(`layer: ${files} entries, ${(fs.statSync(tar).size / 1e6).toFixed(0)} MB tar, ${(fs.statSync(gz).size / 1e6).toFixed(0)} MB gzip; ${runs} runs each, page cache dropped before each run\n`);
    const rows = [await benchApply(tar, 'apply, uncompressed'), await benchApply(gz, 'apply, gzip'), await benchDiff()];
    console.log('| case | A | median A (ms) | B | median B (ms) | A/B |');
    console.log('|---|---|---:|---|---:|---:|');
    for (const [label, a, b, an, bn] of rows) console.log(`| ${label} | ${an} | ${a.toFixed(0)} | ${bn} | ${b.toFixed(0)} | ${(a / b).toFixed(2)} |`);
  } finally {
    fs.rmSync(WORK, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
