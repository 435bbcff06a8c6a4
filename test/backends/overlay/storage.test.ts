import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isSnapshotError } from '../../../src/snapshots/errors';
import { backendIn, fsDir, layer, ref } from './fixture';

describe('overlay backend storage lifecycle', () => {
  const entries = async (root: string) => (await readdir(path.join(root, 'snapshots'))).sort();

  it('stages under new-*, publishes by rename, and keeps staged dirs from cleanup', async (t) => {
    const { root, backend } = await backendIn(t);
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    const [name] = await entries(root);
    assert.match(name, /^new-[0-9a-f]{12}-[0-9]+$/);
    assert.deepEqual((await readdir(path.join(root, 'snapshots', name))).sort(), ['fs', 'work']);
    assert.deepEqual(await backend.cleanup(new Set()), []);
    assert.deepEqual(await entries(root), [name]);
    backend.publish(staged, '1');
    assert.deepEqual(await entries(root), ['1']);
    assert.throws(() => backend.publish(staged, '2'), (err) => isSnapshotError(err, 'FailedPrecondition'));
  });

  it('stages a view without a work dir', async (t) => {
    const { root, backend } = await backendIn(t);
    await backend.stage({ kind: 'view', parentIds: [], labels: {} });
    const [name] = await entries(root);
    assert.deepEqual(await readdir(path.join(root, 'snapshots', name)), ['fs']);
  });

  it('refuses bad ids, committed kinds and missing parents', async (t) => {
    const { backend } = await backendIn(t);
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    assert.throws(() => backend.publish(staged, 'new-1'), (err) => isSnapshotError(err, 'InvalidArgument'));
    assert.throws(() => backend.publish(staged, '../1'), (err) => isSnapshotError(err, 'InvalidArgument'));
    await assert.rejects(
      backend.stage({ kind: 'committed' as 'active', parentIds: [], labels: {} }),
      (err) => isSnapshotError(err, 'InvalidArgument'),
    );
    await assert.rejects(backend.stage({ kind: 'active', parentIds: ['77'], labels: {} }), (err) => isSnapshotError(err, 'NotFound'));
    await assert.rejects(backend.commit(ref('1', 'view')), (err) => isSnapshotError(err, 'FailedPrecondition'));
    await assert.rejects(backend.usage(ref('404', 'active')), (err) => isSnapshotError(err, 'NotFound'));
    await assert.rejects(backend.remove('x/..'), (err) => isSnapshotError(err, 'InvalidArgument'));
  });

  it('discards staged storage, and published storage whose transaction failed', async (t) => {
    const { root, backend } = await backendIn(t);
    await backend.discard(await backend.stage({ kind: 'active', parentIds: [], labels: {} }));
    assert.deepEqual(await entries(root), []);
    const aborted = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    backend.publish(aborted, '3');
    await backend.discard(aborted);
    assert.deepEqual(await entries(root), []);
  });

  it('does not discard an id that was handed out again since', async (t) => {
    const { root, backend } = await backendIn(t);
    const first = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    backend.publish(first, '4');
    const second = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    backend.publish(second, '4');
    await writeFile(path.join(fsDir(root, '4'), 'mine'), 'second');
    await backend.discard(first);
    assert.equal(await readFile(path.join(fsDir(root, '4'), 'mine'), 'utf8'), 'second');
  });

  it('moves crash debris at an id aside on publish, and cleanup removes it', async (t) => {
    const { root, backend } = await backendIn(t);
    await mkdir(path.join(fsDir(root, '7'), 'junk'), { recursive: true });
    const staged = await backend.stage({ kind: 'active', parentIds: [], labels: {} });
    backend.publish(staged, '7');
    assert.deepEqual(await readdir(fsDir(root, '7')), []);
    const [debris] = (await entries(root)).filter((name) => name !== '7');
    assert.match(debris, /^trash-/);
    assert.deepEqual(await backend.cleanup(new Set(['7'])), [debris]);
    assert.deepEqual(await entries(root), ['7']);
  });

  it('cleans up everything not live or staged, and removes one id at once', async (t) => {
    const { root, backend } = await backendIn(t);
    for (const id of ['1', '2', '3']) await layer(backend, root, id, [], { f: id });
    await mkdir(path.join(root, 'snapshots', 'new-leftover'));
    const staged = await backend.stage({ kind: 'view', parentIds: ['1'], labels: {} });
    const removed = await backend.cleanup(new Set(['1', '3']));
    assert.deepEqual(removed.sort(), ['2', 'new-leftover']);
    assert.equal((await entries(root)).length, 3);
    backend.publish(staged, '5');
    await backend.remove('3');
    await backend.remove('3');
    assert.deepEqual(await entries(root), ['1', '5']);
  });
});
