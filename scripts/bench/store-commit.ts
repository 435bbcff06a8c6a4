/**
 * The durable commit alone, below the gRPC layer: strata's MetaStore (LMDB,
 * opened as the server opens it) commits a new active snapshot's metadata
 * as Prepare does (an id and a record, one transaction), and containerd
 * 1.7.24's snapshot storage (bbolt) commits one as its overlayfs
 * snapshotter's Prepare does (go/src/storecommit, built with the harness's
 * Go toolchain and containerd's own sources). Both on a fresh journaled
 * ext4, alternating, page cache dropped before each. Where the two are
 * equal, what a write costs strata above containerd comes from the layers
 * above the store.
 *
 * Beside them, what the flushes alone cost on the same file system: a page
 * overwritten in a preallocated file and flushed (fdatasync), once, and
 * twice in order as both stores' commits need (their data pages, then the
 * page pointing to them). The first is the least any durable commit costs.
 *
 *   node dist/scripts/bench/store-commit.js [--rounds 5] [--count 600]
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PACKAGE_ROOT } from '../../src/package-root';
import { nowNanos } from '../../src/snapshots/clock';
import { MetaStore } from '../../src/store/metastore';
import { numberArg } from './args';
import { mountScratchFileSystem } from './scratch-fs';
import { dropCaches, HARNESS_BIN } from './snapbench';
import { median, printTable } from './stats';

const ROUNDS = numberArg('rounds', 5);
const COUNT = numberArg('count', 600);
const HARNESS_CACHE = path.dirname(HARNESS_BIN);
const GOROOT = path.join(HARNESS_CACHE, 'root', 'usr', 'lib', 'go-1.24');

/** Builds storecommit as the harness builds its programs: GOPATH mode, offline. */
function buildStoreCommit(out: string): void {
  const env = {
    ...process.env,
    GOROOT,
    GOPATH: `${path.join(PACKAGE_ROOT, 'scripts', 'bench', 'go')}:${path.join(HARNESS_CACHE, 'root', 'usr', 'share', 'gocode')}`,
    GOCACHE: path.join(HARNESS_CACHE, 'gocache'),
    GO111MODULE: 'off',
    GOPROXY: 'off',
    GOFLAGS: '-buildvcs=false',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOENV: 'off',
    GOTELEMETRY: 'off',
  };
  const built = spawnSync(path.join(GOROOT, 'bin', 'go'), ['build', '-trimpath', '-o', out, 'storecommit'], { env, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`go build storecommit failed: ${built.stderr}`);
}

/** Milliseconds of each of `COUNT` commits by containerd's storage in `dir`. */
function containerdCommits(program: string, dir: string): number[] {
  const run = spawnSync(program, [dir, String(COUNT)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`storecommit failed: ${run.stderr}`);
  return run.stdout.trim().split('\n').map((line) => Number(line) / 1000);
}

/**
 * Milliseconds of each of `COUNT` commits by strata's store in `dir`. Each
 * starts on a turn of the event loop of its own, as each call reaching the
 * server does: MetaStore commits a lone call at once, and groups calls that
 * overlap.
 */
async function strataCommits(dir: string): Promise<number[]> {
  const store = MetaStore.open(dir);
  const samples: number[] = [];
  try {
    for (let i = 0; i < COUNT; i++) {
      await nextTurn();
      const started = process.hrtime.bigint();
      await store.transact(() => {
        const now = nowNanos().toString();
        const record = { id: store.allocateId(), kind: 'active' as const, parent: '', parentIds: [], labels: {}, created: now, updated: now, children: 0, size: 0, inodes: 0 };
        store.put(`snapshot-${i}`, record);
      });
      samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    await store.close();
  }
  return samples;
}

const PAGE = 4096;
const FLUSH_FILE_PAGES = 256;

/**
 * Milliseconds of each of `COUNT` rounds of `flushes` ordered page writes,
 * each flushed before the next, in a preallocated file in `dir`: overwrites
 * change no file metadata, so each flush is the data's own.
 */
function orderedFlushes(dir: string, flushes: number): number[] {
  const fd = fs.openSync(path.join(dir, 'pages'), 'w+');
  const page = Buffer.alloc(PAGE, 1);
  const samples: number[] = [];
  try {
    fs.writeSync(fd, Buffer.alloc(PAGE * FLUSH_FILE_PAGES));
    fs.fsyncSync(fd);
    for (let i = 0; i < COUNT; i++) {
      const started = process.hrtime.bigint();
      for (let flush = 0; flush < flushes; flush++) {
        // The last write goes to the first page, as a commit's meta page does.
        const position = flush === flushes - 1 ? 0 : PAGE * (1 + (i % (FLUSH_FILE_PAGES - 1)));
        fs.writeSync(fd, page, 0, PAGE, position);
        fs.fdatasyncSync(fd);
      }
      samples.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  } finally {
    fs.closeSync(fd);
  }
  return samples;
}

const SIDES = ['strata', 'containerd', 'oneFlush', 'twoFlushes'] as const;
type Side = (typeof SIDES)[number];
const SIDE_NAMES: Record<Side, string> = {
  strata: 'strata (LMDB)',
  containerd: 'containerd (bbolt)',
  oneFlush: 'one flush',
  twoFlushes: 'two ordered flushes',
};

async function commitsOf(side: Side, program: string, dir: string): Promise<number[]> {
  if (side === 'strata') return strataCommits(dir);
  if (side === 'containerd') return containerdCommits(program, dir);
  return orderedFlushes(dir, side === 'oneFlush' ? 1 : 2);
}

async function main() {
  if (!fs.existsSync(path.join(GOROOT, 'bin', 'go'))) {
    console.log(`store-commit: skipped, the harness's Go toolchain is not built (bash ../shared/harness/build.sh)`);
    return;
  }
  const program = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'strata-storecommit-')), 'storecommit');
  buildStoreCommit(program);
  const scratch = mountScratchFileSystem('/var/tmp/strata-bench-store-commit', '2G');
  try {
    console.log(`${os.cpus()[0].model}, ${os.cpus().length} cores, Linux ${os.release()}, Node.js ${process.version}, ${new Date().toISOString()}`);
    const medians: Record<Side, number[]> = { strata: [], containerd: [], oneFlush: [], twoFlushes: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const side of SIDES) {
        const dir = fs.mkdtempSync(path.join(scratch.dir, `${side}-`));
        dropCaches();
        medians[side].push(median(await commitsOf(side, program, dir)));
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(`\nOne new snapshot's metadata, committed durably: ${COUNT} commits per run, ${ROUNDS} alternating rounds, median ms`);
    const rows = [['store', ...medians.strata.map((_, i) => `round ${i + 1}`), 'median']];
    for (const side of SIDES) {
      rows.push([SIDE_NAMES[side], ...medians[side].map((ms) => ms.toFixed(3)), median(medians[side]).toFixed(3)]);
    }
    printTable(rows);
    const containerd = median(medians.containerd);
    for (const side of SIDES.filter((side) => side !== 'containerd')) {
      console.log(`${SIDE_NAMES[side]} / containerd: ${(median(medians[side]) / containerd).toFixed(2)}`);
    }
  } finally {
    scratch.remove();
    fs.rmSync(path.dirname(program), { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
