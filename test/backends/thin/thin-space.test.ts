import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { withMounts } from '../../../src/mount';
import { isSnapshotError } from '../../../src/snapshots/errors';
import { cleanupStack, create, dmsetup, MiB, removeDevices, removePool, skipReason, thinFixture } from './fixture';

const run = promisify(execFile);

/** A thin-pool made the way an administrator would, for the `pool_name` option. */
async function existingPool(onCleanup: (fn: () => Promise<void>) => void, dataBytes: number): Promise<string> {
  const dir = await mkdtemp('/tmp/thin-pool-');
  const name = `strata-test-${path.basename(dir).slice('thin-pool-'.length)}`;
  const data = path.join(dir, 'data');
  const metadata = path.join(dir, 'metadata');
  onCleanup(async () => {
    await removeDevices(`${name}-`);
    await removePool(name, [data, metadata]);
    await rm(dir, { recursive: true, force: true });
  });
  await run('truncate', ['-s', String(dataBytes), data]);
  await run('truncate', ['-s', String(8 * MiB), metadata]);
  const dataLoop = await deviceNumber((await run('losetup', ['--find', '--show', data])).stdout.trim());
  const metadataLoop = await deviceNumber((await run('losetup', ['--find', '--show', metadata])).stdout.trim());
  await dmsetup('create', name, '--table', `0 ${dataBytes / 512} thin-pool ${metadataLoop} ${dataLoop} 128 0`);
  return name;
}

/** "MAJOR:MINOR" of a block device: device-mapper tables take that form without udev. */
async function deviceNumber(device: string): Promise<string> {
  return (await readFile(`/sys/class/block/${path.basename(device)}/dev`, 'utf8')).trim();
}

/** Writes `bytes` in 1 MiB chunks, each filled with its own byte, and returns their sha256. */
async function writeChunks(file: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(file, 'w');
  try {
    for (let written = 0; written < bytes; written += MiB) {
      const chunk = Buffer.alloc(MiB, written / MiB + 1);
      hash.update(chunk);
      await handle.write(chunk);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

describe('thin-pool space', { skip: skipReason }, () => {
  test('an existing pool given by pool_name refuses new devices below min_free_space', async (t) => {
    const onCleanup = cleanupStack(t);
    const poolName = await existingPool(onCleanup, 64 * MiB);
    const { backend, env } = await thinFixture(onCleanup, { min_free_space: '50%' }, { existingPool: poolName });
    const status = await backend.status();
    assert.equal(status.poolName, poolName);
    assert.equal(status.loopback, undefined, 'strata did not create this pool');

    const first = await create(backend, env, '1', 'active');
    await withMounts(await backend.mounts(first), (dir) => writeChunks(path.join(dir, 'fill'), 40 * MiB));
    const devicesBefore = (await backend.status()).devicesByState;
    await assert.rejects(
      backend.stage({ kind: 'active', parentIds: [], labels: {} }),
      (err) => isSnapshotError(err, 'ResourceExhausted') && /min_free_space \(50%\)/.test(err.message) && err.message.includes(poolName),
    );
    // The pool's status is read while the refused device is made: it is deleted again, record and all.
    assert.deepEqual((await backend.status()).devicesByState, devicesBefore);

    await backend.remove('1');
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    await backend.discard(staged);
  });

  test('a loopback pool grows its data file as it fills', async (t) => {
    const { backend, env, logs } = await thinFixture(cleanupStack(t), { data_size: '32MiB', base_image_size: '128MiB', min_free_space: '5%' });
    const dataFile = (await backend.status()).loopback!.dataFile;
    const active = await create(backend, env, '1', 'active');
    await withMounts(await backend.mounts(active), async (dir) => {
      const written = await writeChunks(path.join(dir, 'big'), 48 * MiB);
      assert.equal(await sha256(path.join(dir, 'big')), written);
    });
    const status = await backend.status();
    assert.ok(status.dataTotalBytes >= 64 * MiB, `pool has ${status.dataTotalBytes} bytes of data space`);
    assert.equal(status.mode, 'rw');
    assert.equal((await stat(dataFile)).size, status.dataTotalBytes, 'the pool spans the whole data file');
    assert.ok(logs.some((entry) => entry.msg === 'grew thin-pool data file'));

    // Read back once more from a fresh activation: nothing was lost while the pool was suspended.
    await backend.commit({ id: '1', kind: 'active', parentIds: [], labels: {} });
    const view = await create(backend, env, '2', 'view', ['1']);
    await withMounts(await backend.mounts(view), async (dir) => {
      assert.equal((await stat(path.join(dir, 'big'))).size, 48 * MiB);
    });
  });
});
