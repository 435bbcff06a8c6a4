import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, open, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { RootDatabase } from 'lmdb';
import type { ThinBackend } from '../../../src/backends/thin';
import { isSnapshotError } from '../../../src/snapshots/errors';
import { cleanupStack, create, MiB, ref, skipReason, thinFixture } from './fixture';

const run = promisify(execFile);

/** What the snapshots write: one 4 KiB block at a time. */
const BLOCK = 4096;
/** The part of each device the tests write; its mapping tree spans a few dozen metadata leaves. */
const SPAN = 256 * MiB;
/**
 * A snapshot writes one block this far apart, closer than the stretch one
 * leaf of its origin's mapping tree covers (about 14 MiB), so it copies every
 * leaf: each snapshot costs the pool about 18 metadata blocks and 4 MiB of data.
 */
const SNAPSHOT_STRIDE = 4 * MiB;
/** A 512 KiB metadata file (128 blocks) runs low after the origin and a few such snapshots. */
const TINY_METADATA_BYTES = 512 * 1024;
/** ext4 without a journal and with few inodes: the base device formats quickly under emulation. */
const TINY_METADATA = { metadata_size: String(TINY_METADATA_BYTES), base_image_size: String(SPAN), fs_options: '-O ^has_journal -N 1024' };
/** Far more snapshots than 2 MiB of metadata can hold: the loop ends on growth or refusal well before. */
const MAX_SNAPSHOTS = 60;

/** Writes `length` bytes of `byte` every `stride` bytes of the first SPAN bytes of `device`. */
async function writeEvery(device: string, stride: number, length: number, byte: number): Promise<void> {
  const handle = await open(device, 'r+');
  try {
    const chunk = Buffer.alloc(length, byte);
    for (let offset = 0; offset < SPAN; offset += stride) await handle.write(chunk, 0, length, offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Offsets of the 4 KiB blocks every `stride` bytes of SPAN that do not hold `byte`. */
async function mismatches(device: string, stride: number, byte: number): Promise<number[]> {
  const handle = await open(device, 'r');
  const wrong: number[] = [];
  try {
    const block = Buffer.alloc(BLOCK);
    const expected = Buffer.alloc(BLOCK, byte);
    for (let offset = 0; offset < SPAN; offset += stride) {
      await handle.read(block, 0, BLOCK, offset);
      if (!block.equals(expected)) wrong.push(offset);
    }
  } finally {
    await handle.close();
  }
  return wrong;
}

async function devicePath(backend: ThinBackend, id: string): Promise<string> {
  return (await backend.mounts(ref(id, 'active', id === 'origin' ? [] : ['origin'])))[0].source;
}

interface Filled {
  /** Snapshots s1..sN written, each with the byte N. */
  snapshots: number;
  /** The ResourceExhausted error that stopped the filling, if one did. */
  refusal?: Error;
}

/**
 * Fills the pool's metadata: an origin mapping every data block of SPAN, then
 * snapshots of it each writing a block into every leaf of its mapping tree,
 * until `enough` says so or a new snapshot is refused for lack of space.
 */
async function fillMetadata(backend: ThinBackend, env: RootDatabase, enough: (snapshots: number) => Promise<boolean>): Promise<Filled> {
  await create(backend, env, 'origin', 'active');
  // Every data block of SPAN mapped: the origin's mapping tree spans about 18 leaves.
  await writeEvery(await devicePath(backend, 'origin'), MiB, MiB, 0xff);
  await backend.commit(ref('origin', 'active'));
  for (let n = 1; n <= MAX_SNAPSHOTS; n++) {
    try {
      await create(backend, env, `s${n}`, 'active', ['origin']);
    } catch (err) {
      if (isSnapshotError(err, 'ResourceExhausted')) return { snapshots: n - 1, refusal: err };
      throw err;
    }
    await writeEvery(await devicePath(backend, `s${n}`), SNAPSHOT_STRIDE, BLOCK, n);
    if (await enough(n)) return { snapshots: n };
  }
  const status = await backend.status();
  throw new Error(`${MAX_SNAPSHOTS} snapshots did not fill the pool's metadata: ${status.metadataUsedBytes} of ${status.metadataTotalBytes} bytes used`);
}

describe('thin-pool metadata', { skip: skipReason }, () => {
  test('a loopback pool grows its metadata file as snapshots fill it, and writes carry on', async (t) => {
    const { backend, env, logs } = await thinFixture(cleanupStack(t), { ...TINY_METADATA, data_size: '1GiB' });
    const { metadataFile } = (await backend.status()).loopback!;
    assert.equal((await stat(metadataFile)).size, TINY_METADATA_BYTES);

    // Carry on one snapshot past the first growth, to write into the grown metadata.
    let grownAt: number | undefined;
    const filled = await fillMetadata(backend, env, async (n) => {
      if (grownAt === undefined && (await stat(metadataFile)).size > TINY_METADATA_BYTES) grownAt = n;
      return grownAt !== undefined && n >= grownAt + 1;
    });
    assert.equal(filled.refusal, undefined);

    const status = await backend.status();
    const fileBytes = (await stat(metadataFile)).size;
    assert.ok(fileBytes >= 2 * TINY_METADATA_BYTES, `metadata file has ${fileBytes} bytes`);
    assert.equal(status.metadataTotalBytes, fileBytes, 'the pool uses the whole grown metadata file');
    assert.ok(status.metadataUsedBytes > TINY_METADATA_BYTES, `the snapshots use ${status.metadataUsedBytes} bytes of metadata: more than the first file held`);
    assert.equal(status.mode, 'rw');
    assert.ok(logs.some((entry) => entry.msg === 'grew thin-pool metadata file'), JSON.stringify(logs));

    // Every block every snapshot wrote is there, and the origin is untouched under them.
    for (let n = 1; n <= filled.snapshots; n++) {
      assert.deepEqual(await mismatches(await devicePath(backend, `s${n}`), SNAPSHOT_STRIDE, n), [], `snapshot s${n}`);
    }
    const view = await create(backend, env, 'check', 'view', ['origin']);
    assert.deepEqual(await mismatches((await backend.mounts(view))[0].source, SNAPSHOT_STRIDE, 0xff), []);
  });

  test('metadata that cannot grow because its file system is full refuses new devices naming metadata, and grows once there is room', async (t) => {
    // The files are allocated up front on a tmpfs and the rest of it taken, so writes work but nothing can grow.
    // min_free_space (1900 KiB) is above what 2 MiB of metadata has free, and well below what 4 MiB has.
    const dataBytes = 128 * MiB;
    const thinDir = (root: string) => path.join(root, 'thin');
    const { backend, logs, root } = await thinFixture(
      cleanupStack(t),
      { metadata_size: '2MiB', data_size: String(dataBytes), min_free_space: '1900KiB' },
      { prepareRoot: (dir) => fullFileSystem(thinDir(dir), { data: dataBytes, metadata: 2 * MiB }) },
    );
    const { metadataFile } = (await backend.status()).loopback!;

    await assert.rejects(
      backend.stage({ kind: 'active', parentIds: [], labels: {} }),
      (err) =>
        isSnapshotError(err, 'ResourceExhausted') &&
        /metadata space free, less than min_free_space \(1.9 MiB\), and its metadata file \S+ cannot grow: its file system has 0 B free/.test(err.message),
    );
    assert.equal((await stat(metadataFile)).size, 2 * MiB, 'the metadata file did not grow');
    assert.ok(logs.some((entry) => entry.msg === 'thin-pool metadata is filling but cannot grow'), JSON.stringify(logs));
    assert.equal((await backend.status()).mode, 'rw');

    await rm(path.join(thinDir(root), 'filler'));
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    const fileBytes = (await stat(metadataFile)).size;
    assert.equal(fileBytes, 4 * MiB);
    assert.equal((await backend.status()).metadataTotalBytes, fileBytes);
    await backend.discard(staged);
  });
});

/**
 * Mounts a tmpfs at `dir` holding the pool's files allocated at the given
 * sizes and a file taking all the space left; returns its unmount.
 */
async function fullFileSystem(dir: string, sizes: { data: number; metadata: number }): Promise<() => Promise<void>> {
  await mkdir(dir);
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizes.data + sizes.metadata + 4 * MiB}`, 'strata-test', dir]);
  const unmount = async () => {
    await run('umount', [dir]);
  };
  try {
    await run('fallocate', ['-l', String(sizes.data), path.join(dir, 'data')]);
    await run('fallocate', ['-l', String(sizes.metadata), path.join(dir, 'metadata')]);
    const { bavail, bsize } = await statfs(dir);
    await run('fallocate', ['-l', String(bavail * bsize), path.join(dir, 'filler')]);
    assert.equal((await statfs(dir)).bavail, 0, 'the file system is full');
  } catch (err) {
    await unmount();
    throw err;
  }
  return unmount;
}
