/**
 * What containerd's devmapper snapshotter does and its conformance suite
 * relies on: a snapshot's root starts empty, and an active snapshot can be
 * committed while it is still mounted (the device is removed, deferred, when
 * it is unmounted).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DeviceLifecycle } from '../../../src/backends/thin/lifecycle';
import { ThinPool } from '../../../src/backends/thin/pool';
import { mountAll, unmount, withMounts } from '../../../src/mount';
import type { Mount } from '../../../src/snapshots/types';
import { create, dmsetup, ref, skipReason, suiteFixture } from './fixture';

/** Mounts `mounts` on a new directory until the returned function unmounts it. */
async function mountUntilReleased(mounts: Mount[]): Promise<{ dir: string; release: () => Promise<void> }> {
  const dir = await mkdtemp('/tmp/thin-mnt-');
  await mountAll(mounts, dir);
  return {
    dir,
    release: async () => {
      await unmount(dir);
      await rmdir(dir);
    },
  };
}

async function deviceExists(name: string): Promise<boolean> {
  return dmsetup('info', name).then(
    () => true,
    () => false,
  );
}

describe('thin snapshots as containerd devmapper makes them', { skip: skipReason }, () => {
  const fixture = suiteFixture();

  test("a snapshot without a parent has an empty root: mkfs's lost+found is removed", async () => {
    const { backend, env } = fixture();
    const snapshot = await create(backend, env, 'empty-root', 'active');
    await withMounts(await backend.mounts(snapshot), async (dir) => {
      assert.deepEqual(await readdir(dir), []);
    });
    await backend.remove('empty-root');
  });

  test('commits a mounted snapshot; its device goes away when it is unmounted', async () => {
    const { backend, env, store, poolName } = fixture();
    const active = await create(backend, env, 'mounted', 'active');
    const mounts = await backend.mounts(active);
    const deviceName = `${poolName}-snap-${store.bySnapshot('mounted')!.deviceId}`;
    const mounted = await mountUntilReleased(mounts);
    try {
      await writeFile(path.join(mounted.dir, 'a.txt'), 'written before commit');
      await backend.commit(ref('mounted', 'active'));
      const record = store.bySnapshot('mounted')!;
      assert.equal(record.state, 'deactivated');
      assert.equal(record.removalPending, true);
      assert.ok(await deviceExists(deviceName), 'the device stays while it is mounted');

      // A child of the committed snapshot while the parent's device is still open.
      const child = await create(backend, env, 'child', 'active', ['mounted']);
      await withMounts(await backend.mounts(child), async (dir) => {
        assert.equal(await readFile(path.join(dir, 'a.txt'), 'utf8'), 'written before commit');
      });
    } finally {
      await mounted.release();
    }
    assert.ok(!(await deviceExists(deviceName)), 'the kernel removed the device at unmount');
    await backend.remove('child');
    await backend.remove('mounted');
    assert.equal(store.bySnapshot('mounted'), undefined);
    // Without udev nobody removed the node when the kernel removed the device.
    assert.ok(!existsSync(mounts[0].source), 'Remove deletes the node the deferred removal left');
  });

  test('activating a device whose deferred removal is pending keeps it', async () => {
    const { backend, env, store, poolName } = fixture();
    const active = await create(backend, env, 'reactivated', 'active');
    const { deviceId } = store.bySnapshot('reactivated')!;
    const deviceName = `${poolName}-snap-${deviceId}`;
    const mounted = await mountUntilReleased(await backend.mounts(active));
    const lifecycle = new DeviceLifecycle(await ThinPool.openExisting(poolName), store, 'ext4', false);
    try {
      await lifecycle.deactivateWhenClosed(deviceId);
      assert.equal(store.get(deviceId)?.removalPending, true);
      await lifecycle.activate(deviceId);
      assert.equal(store.get(deviceId)?.state, 'activated');
      assert.equal(store.get(deviceId)?.removalPending, undefined);
    } finally {
      await mounted.release();
    }
    assert.ok(await deviceExists(deviceName), 'activation cancelled the deferred removal');
    await withMounts(await backend.mounts(active), async (dir) => {
      assert.deepEqual(await readdir(dir), []);
    });
    await backend.remove('reactivated');
    assert.ok(!(await deviceExists(deviceName)));
  });
});
