import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MAX_SIZE_LABEL } from '../../../src/backends/thin';
import { withMounts } from '../../../src/mount';
import { isSnapshotError } from '../../../src/snapshots/errors';
import { activeDevices, create, MiB, ref, skipReason, suiteFixture, testCleanup, thinFixture } from './fixture';

describe('thin backend on a loopback pool', { skip: skipReason }, () => {
  const fixture = suiteFixture();

  test('sets up a pool from sparse files with a formatted base device', async () => {
    const { backend, root, poolName, store } = fixture();
    const status = await backend.status();
    assert.equal(status.poolName, poolName);
    assert.equal(status.loopback?.dataFile, path.join(root, 'thin', 'data'));
    assert.ok(existsSync(status.loopback!.metadataFile));
    assert.match(status.loopback!.dataDevice, /^\/dev\/loop\d+$/);
    assert.equal(status.dataTotalBytes, 256 * MiB);
    assert.ok(status.metadataTotalBytes > 0 && status.metadataTotalBytes <= 16 * MiB);
    assert.equal(status.baseDeviceSize, 64 * MiB);
    assert.equal(status.fsType, 'ext4');
    assert.equal(status.mode, 'rw');
    assert.equal(status.devicesByState.deactivated, 1, 'the base device, formatted and put away');
    assert.equal(status.deferredRemovals, 0);
    assert.equal(store.all().length, 1);
    assert.deepEqual(await activeDevices(poolName), [], 'the base device is not left active');
  });

  test('layers: prepare, write, commit, prepare on top, view; files read through the chain', async () => {
    const { backend, env, store, poolName } = fixture();
    const devicesBefore = store.all().length;

    const first = await create(backend, env, 'l1', 'active');
    const firstMounts = await backend.mounts(first);
    assert.equal(firstMounts.length, 1);
    assert.equal(firstMounts[0].type, 'ext4');
    assert.equal(firstMounts[0].source, `/dev/mapper/${poolName}-snap-${store.bySnapshot('l1')?.deviceId}`);
    assert.deepEqual(firstMounts[0].options, ['rw']);
    await withMounts(firstMounts, async (dir) => {
      await writeFile(path.join(dir, 'a.txt'), 'layer one');
      await writeFile(path.join(dir, 'big.bin'), Buffer.alloc(4 * MiB, 7));
    });
    assert.equal(store.bySnapshot('l1')?.state, 'activated');
    const { usage } = await backend.commit(ref('l1', 'active'));
    assert.ok(usage.size >= 4 * MiB, `usage ${usage.size} counts the blocks written`);
    assert.equal(store.bySnapshot('l1')?.state, 'deactivated');
    assert.ok(!existsSync(firstMounts[0].source), 'a committed device is deactivated');

    const second = await create(backend, env, 'l2', 'active', ['l1']);
    await withMounts(await backend.mounts(second), async (dir) => {
      assert.equal(await readFile(path.join(dir, 'a.txt'), 'utf8'), 'layer one');
      await writeFile(path.join(dir, 'a.txt'), 'changed in two');
      await writeFile(path.join(dir, 'b.txt'), 'layer two');
    });
    await backend.commit(ref('l2', 'active', ['l1']));

    const view = await create(backend, env, 'l3', 'view', ['l2', 'l1']);
    const viewMounts = await backend.mounts(view);
    assert.deepEqual(viewMounts[0].options, ['ro']);
    await withMounts(viewMounts, async (dir) => {
      assert.equal(await readFile(path.join(dir, 'a.txt'), 'utf8'), 'changed in two');
      assert.equal(await readFile(path.join(dir, 'b.txt'), 'utf8'), 'layer two');
      await assert.rejects(writeFile(path.join(dir, 'c.txt'), 'x'), { code: 'EROFS' });
    });

    // The first layer is untouched by its child's changes.
    const again = await create(backend, env, 'l4', 'view', ['l1']);
    await withMounts(await backend.mounts(again), async (dir) => {
      assert.equal(await readFile(path.join(dir, 'a.txt'), 'utf8'), 'layer one');
      assert.ok(!existsSync(path.join(dir, 'b.txt')));
    });

    for (const id of ['l4', 'l3', 'l2', 'l1']) await backend.remove(id);
    assert.equal(store.all().length, devicesBefore, 'every device of the chain is gone');
    assert.ok(!existsSync(viewMounts[0].source));
    await assert.rejects(backend.mounts(ref('l1', 'active')), (err) => isSnapshotError(err, 'NotFound'));
  });

  test('usage of an active snapshot grows with what is written', async () => {
    const { backend, env } = fixture();
    const active = await create(backend, env, 'u1', 'active');
    const before = await backend.usage(active);
    await withMounts(await backend.mounts(active), (dir) => writeFile(path.join(dir, 'data'), Buffer.alloc(8 * MiB, 1)));
    const after = await backend.usage(active);
    assert.ok(after.size - before.size >= 8 * MiB, `usage grew from ${before.size} to ${after.size}`);
    await assert.rejects(backend.commit(ref('u1', 'view')), (err) => isSnapshotError(err, 'FailedPrecondition'));
    await assert.rejects(backend.mounts(ref('u1', 'committed')), (err) => isSnapshotError(err, 'FailedPrecondition'));
    await backend.remove('u1');
  });

  test('the max-size label gives a snapshot a larger device and file system', async () => {
    const { backend, env, store } = fixture();
    const large = await create(backend, env, 'm1', 'active', [], { [MAX_SIZE_LABEL]: String(128 * MiB) });
    assert.equal(store.bySnapshot('m1')?.size, 128 * MiB);
    assert.equal(store.bySnapshot('m1')?.growFs, false, 'grown on first activation');
    await withMounts(await backend.mounts(large), async (dir) => {
      const fs = await statfs(dir);
      assert.ok(fs.blocks * fs.bsize > 100 * MiB, `file system has ${fs.blocks * fs.bsize} bytes`);
    });
    await backend.commit(ref('m1', 'active'));

    const child = await create(backend, env, 'm2', 'view', ['m1']);
    assert.equal(store.bySnapshot('m2')?.size, 128 * MiB, 'a child inherits its parent size');
    await withMounts(await backend.mounts(child), async (dir) => {
      const fs = await statfs(dir);
      assert.ok(fs.blocks * fs.bsize > 100 * MiB);
    });

    await assert.rejects(
      backend.stage({ kind: 'active', parentIds: ['m1'], labels: { [MAX_SIZE_LABEL]: String(64 * MiB) } }),
      (err) => isSnapshotError(err, 'InvalidArgument') && /less than the parent/.test(err.message),
    );
    await assert.rejects(
      backend.stage({ kind: 'active', parentIds: [], labels: { [MAX_SIZE_LABEL]: 'lots' } }),
      (err) => isSnapshotError(err, 'InvalidArgument'),
    );
    await assert.rejects(
      backend.stage({ kind: 'active', parentIds: ['no-such-id'], labels: {} }),
      (err) => isSnapshotError(err, 'NotFound'),
    );
    await backend.remove('m2');
    await backend.remove('m1');
  });

  test('discard and cleanup reclaim devices no snapshot refers to', async () => {
    const { backend, env, store } = fixture();
    const devicesBefore = store.all().length;
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    assert.equal(store.all().length, devicesBefore + 1);
    await backend.discard(staged);
    assert.equal(store.all().length, devicesBefore);
    assert.throws(() => backend.publish(staged, '9'), (err) => isSnapshotError(err, 'InvalidArgument'));

    await create(backend, env, 'kept', 'active');
    await create(backend, env, 'gone', 'active');
    const pending = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    const live = new Set(store.all().flatMap((record) => (record.snapshotId && record.snapshotId !== 'gone' ? [record.snapshotId] : [])));
    assert.deepEqual(await backend.cleanup(live), ['gone']);
    assert.ok(store.bySnapshot('kept'));
    assert.equal(store.bySnapshot('gone'), undefined);
    assert.equal(store.all().length, devicesBefore + 2, 'kept, and the staged device cleanup must not take');
    env.transactionSync(() => backend.publish(pending, 'late'));
    assert.equal(store.bySnapshot('late')?.state, 'activated');
    await backend.remove('late');
    await backend.remove('kept');
  });
});

describe('thin backend with async_remove and discard_blocks', { skip: skipReason }, () => {
  test('removal is deferred to cleanup, which gives the blocks back', async (t) => {
    const { backend, env, store, poolName } = await thinFixture(testCleanup(t), { async_remove: true, discard_blocks: true });
    const active = await create(backend, env, '1', 'active');
    const deviceId = store.bySnapshot('1')!.deviceId;
    await withMounts(await backend.mounts(active), (dir) => writeFile(path.join(dir, 'f'), Buffer.alloc(2 * MiB, 3)));
    await backend.remove('1');
    assert.equal(store.bySnapshot('1'), undefined, 'the snapshot no longer has a device');
    assert.equal((await backend.status()).deferredRemovals, 1);
    assert.deepEqual(await activeDevices(poolName), [`${poolName}-snap-${deviceId}`], 'the device is still there');
    const usedBefore = (await backend.status()).dataUsedBytes;

    assert.deepEqual(await backend.cleanup(new Set()), [`${poolName}-snap-${deviceId}`]);
    const status = await backend.status();
    assert.equal(status.deferredRemovals, 0);
    assert.deepEqual(await activeDevices(poolName), []);
    assert.ok(status.dataUsedBytes < usedBefore, 'the pool got its blocks back');
  });
});
