import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { open } from 'lmdb';
import { DeviceStore, MAX_DEVICE_ID } from '../../../src/backends/thin/devices';

async function storeIn(t: TestContext) {
  const dir = await mkdtemp('/tmp/thin-db-');
  const env = open({ path: path.join(dir, 'meta') });
  const db = env.openDB({ name: 'thin' });
  t.after(async () => {
    await env.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { env, db, store: new DeviceStore(db) };
}

test('devices get increasing ids and start in state "creating"', async (t) => {
  const { store } = await storeIn(t);
  const first = store.add({ size: 4096 });
  const second = store.add({ size: 8192, originId: first.deviceId });
  assert.equal(first.deviceId, 1);
  assert.equal(second.deviceId, 2);
  assert.equal(store.get(2)?.state, 'creating');
  assert.equal(store.get(2)?.originId, 1);
  store.update(2, { state: 'activated' });
  assert.deepEqual(
    store.all().map((record) => [record.deviceId, record.state]),
    [
      [1, 'creating'],
      [2, 'activated'],
    ],
  );
});

test('a binding made inside a transaction that fails is rolled back with it', async (t) => {
  const { env, store } = await storeIn(t);
  const device = store.add({ size: 4096 });
  assert.throws(() =>
    env.transactionSync(() => {
      store.bind(device.deviceId, '7');
      throw new Error('metadata write failed');
    }),
  );
  assert.equal(store.bySnapshot('7'), undefined);
  assert.equal(store.get(device.deviceId)?.snapshotId, undefined);

  env.transactionSync(() => store.bind(device.deviceId, '7'));
  assert.equal(store.bySnapshot('7')?.deviceId, device.deviceId);
  store.unbind(device.deviceId);
  assert.equal(store.bySnapshot('7'), undefined);
  assert.equal(store.get(device.deviceId)?.snapshotId, undefined);
  store.delete(device.deviceId);
  assert.deepEqual(store.all(), []);
});

test('ids wrap at the 24-bit limit and skip ids still in use', async (t) => {
  const { db, store } = await storeIn(t);
  const low = store.add({ size: 1 });
  db.putSync('next-device-id', MAX_DEVICE_ID);
  assert.equal(store.add({ size: 1 }).deviceId, MAX_DEVICE_ID);
  assert.equal(store.add({ size: 1 }).deviceId, low.deviceId + 1, 'wrapped past the limit and skipped id 1');
});
