import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile, writeFile } from 'node:fs/promises';
import { withMounts } from '../../../src/mount';
import { CRASH_CHILD_FLAG } from './crash-child';
import { activeDevices, create, dmsetup, ref, skipReason, SMALL_POOL, testCleanup, thinFixture } from './fixture';

const SETTLED = new Set(['activated', 'deactivated']);

/** Whether the pool still holds thin device `deviceId`: deleting a missing one fails with ENODATA. */
async function poolHasDevice(poolName: string, deviceId: number): Promise<boolean> {
  try {
    await dmsetup('message', poolName, '0', `create_thin ${deviceId}`);
  } catch (err) {
    if (/File exists/.test(String((err as { stderr?: string }).stderr))) return true;
    throw err;
  }
  await dmsetup('message', poolName, '0', `delete ${deviceId}`);
  return false;
}

describe('thin backend restart', { skip: skipReason }, () => {
  test('reconcile finishes or undoes operations a crash interrupted', async (t) => {
    const fixture = await thinFixture(testCleanup(t));
    const { env, store, poolName } = fixture;
    let backend = fixture.backend;
    const baseId = store.all()[0].deviceId;

    const active = await create(backend, env, 'active', 'active');
    await withMounts(await backend.mounts(active), (dir) => writeFile(path.join(dir, 'kept'), 'still here'));
    await create(backend, env, 'committed', 'active');
    await backend.commit(ref('committed', 'active'));
    await create(backend, env, 'doomed', 'active');
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    assert.ok(staged);
    await backend.close();

    // What a crash in the middle of each operation leaves behind:
    const activeId = store.bySnapshot('active')!.deviceId;
    store.update(activeId, { state: 'suspending' });
    await dmsetup('suspend', `${poolName}-snap-${activeId}`);

    const committedId = store.bySnapshot('committed')!.deviceId;
    store.update(committedId, { state: 'deactivating' });
    await dmsetup('create', `${poolName}-snap-${committedId}`, '--table', `0 131072 thin ${await poolNumber(poolName)} ${committedId}`);

    const doomedId = store.bySnapshot('doomed')!.deviceId;
    store.unbind(doomedId);
    store.update(doomedId, { state: 'removing' });

    const createdInPool = store.add({ size: 64 * 1024 * 1024, originId: baseId });
    await dmsetup('message', poolName, '0', `create_snap ${createdInPool.deviceId} ${baseId}`);
    const neverCreated = store.add({ size: 64 * 1024 * 1024, originId: baseId });
    // A new device's record says "creating" until it is active (lifecycle.create): made and activated, then the crash.
    const activatedInPool = store.add({ size: 64 * 1024 * 1024, originId: baseId });
    await dmsetup('message', poolName, '0', `create_snap ${activatedInPool.deviceId} ${baseId}`);
    await dmsetup('create', `${poolName}-snap-${activatedInPool.deviceId}`, '--table', `0 131072 thin ${await poolNumber(poolName)} ${activatedInPool.deviceId}`);

    backend = await fixture.reopen();

    assert.deepEqual(fixture.logs, [], 'every device was settled');
    for (const record of store.all()) assert.ok(SETTLED.has(record.state), `device ${record.deviceId} is ${record.state}`);
    assert.deepEqual(
      store.all().map((record) => record.deviceId),
      [baseId, activeId, committedId],
      'the removed, the half-created and the unpublished devices are gone',
    );
    assert.equal(store.bySnapshot('active')?.state, 'activated');
    assert.equal(store.bySnapshot('committed')?.state, 'deactivated');
    assert.deepEqual(await activeDevices(poolName), [`${poolName}-snap-${activeId}`]);
    // attr is "L--w" for a live device, "L-sw" for a suspended one.
    assert.equal((await dmsetup('info', '-c', '--noheadings', '-o', 'attr', `${poolName}-snap-${activeId}`)).trim(), 'L--w', 'resumed');
    for (const gone of [doomedId, createdInPool.deviceId, neverCreated.deviceId, activatedInPool.deviceId]) {
      assert.equal(await poolHasDevice(poolName, gone), false, `device ${gone} was deleted from the pool`);
    }
    await withMounts(await backend.mounts(active), async (dir) => {
      assert.equal(await readFile(path.join(dir, 'kept'), 'utf8'), 'still here');
    });
  });

  test('a process killed while creating devices leaves nothing unsettled', async (t) => {
    const fixture = await thinFixture(testCleanup(t));
    const { root, store, poolName } = fixture;
    await fixture.backend.close();

    const child = spawn(process.execPath, [path.join(__dirname, 'crash-child.js'), CRASH_CHILD_FLAG, root, JSON.stringify(SMALL_POOL)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    t.after(() => child.kill('SIGKILL'));
    const deadline = Date.now() + 120_000;
    while (!output.includes('published k2') && Date.now() < deadline && child.exitCode === null) await sleep(50);
    assert.ok(output.includes('published k2'), `the child published two snapshots; its output: ${output}`);
    // Somewhere inside the third creation.
    await sleep(300);
    child.kill('SIGKILL');
    await exited;

    const published = [...output.matchAll(/published (k\d+)/g)].map((match) => match[1]);
    const backend = await fixture.reopen();
    assert.deepEqual(fixture.logs, [], 'every device was settled');
    for (const record of store.all()) assert.ok(SETTLED.has(record.state), `device ${record.deviceId} is ${record.state}`);
    const bound = store.all().flatMap((record) => (record.snapshotId ? [record.snapshotId] : []));
    for (const id of published) assert.ok(bound.includes(id), `${id} kept its device`);
    assert.equal(store.all().length, bound.length + 1, 'only the base device has no snapshot');
    const active = store.all().filter((record) => record.state === 'activated').map((record) => `${poolName}-snap-${record.deviceId}`);
    assert.deepEqual(await activeDevices(poolName), active.sort());
    for (const id of bound) assert.ok(existsSync((await backend.mounts(ref(id, 'active')))[0].source));

    const next = await create(backend, fixture.env, 'after', 'active');
    await withMounts(await backend.mounts(next), (dir) => writeFile(path.join(dir, 'x'), 'works'));
  });
});

async function poolNumber(poolName: string): Promise<string> {
  return (await dmsetup('info', '-c', '--noheadings', '-o', 'major,minor', '--separator', ':', poolName)).trim();
}
