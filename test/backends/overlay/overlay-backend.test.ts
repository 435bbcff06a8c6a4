import assert from 'node:assert/strict';
import { chmod, chown, lstat, mkdir, readdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runMountTool } from '../../../src/mount/command';
import { createOverlayBackend } from '../../../src/backends/overlay';
import { MetaStore } from '../../../src/store/metastore';
import { MOUNT_DATA_LIMIT, mountAll, unmount, withMounts } from '../../../src/mount';
import type { Backend } from '../../../src/snapshots/backend';
import { isSnapshotError } from '../../../src/snapshots/errors';
import { tempRoot } from '../../mount/temp-root';
import { backendIn, chainIds, fsDir, layer, ref } from './fixture';

async function expectErrno(action: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(action, (err: NodeJS.ErrnoException) => err.code === code);
}

/** An active snapshot `id` on top of `parentIds`, mounted while `fn` runs. */
async function withActive<T>(backend: Backend, id: string, parentIds: string[], fn: (dir: string) => Promise<T>): Promise<T> {
  const staged = await backend.stage({ kind: 'active', parentIds, labels: {} });
  backend.publish(staged, id);
  return withMounts(await backend.mounts(ref(id, 'active', parentIds)), fn);
}

async function withView<T>(backend: Backend, id: string, parentIds: string[], fn: (dir: string) => Promise<T>): Promise<T> {
  const staged = await backend.stage({ kind: 'view', parentIds, labels: {} });
  backend.publish(staged, id);
  return withMounts(await backend.mounts(ref(id, 'view', parentIds)), fn);
}

describe('overlay backend on real mounts', () => {
  it('writes through a lone active and reads the layers of a chain, nearest winning', async (t) => {
    const { root, backend } = await backendIn(t);
    await withActive(backend, '1', [], async (dir) => {
      await writeFile(path.join(dir, 'base'), 'from 1');
      await writeFile(path.join(dir, 'shared'), 'from 1');
    });
    assert.equal(await readFile(path.join(fsDir(root, '1'), 'base'), 'utf8'), 'from 1');
    await layer(backend, root, '2', ['1'], { shared: 'from 2', 'dir/two': '2' });
    await withActive(backend, '3', ['2', '1'], async (dir) => {
      assert.equal(await readFile(path.join(dir, 'base'), 'utf8'), 'from 1');
      assert.equal(await readFile(path.join(dir, 'shared'), 'utf8'), 'from 2');
      assert.equal(await readFile(path.join(dir, 'dir/two'), 'utf8'), '2');
      await writeFile(path.join(dir, 'new'), 'from 3');
    });
    // The write landed in the active's own upper dir only.
    assert.equal(await readFile(path.join(fsDir(root, '3'), 'new'), 'utf8'), 'from 3');
    await expectErrno(stat(path.join(fsDir(root, '2'), 'new')), 'ENOENT');
  });

  it('hides a lower file deleted in a child behind a whiteout', async (t) => {
    const { root, backend } = await backendIn(t);
    await layer(backend, root, '1', [], { gone: 'x', kept: 'y' });
    await withActive(backend, '2', ['1'], async (dir) => {
      await unlink(path.join(dir, 'gone'));
      await expectErrno(stat(path.join(dir, 'gone')), 'ENOENT');
    });
    const whiteout = await lstat(path.join(fsDir(root, '2'), 'gone'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'upper holds a 0/0 character device');
    await withView(backend, '3', ['2', '1'], async (dir) => {
      assert.deepEqual(await readdir(dir), ['kept']);
    });
  });

  it('keeps chown, chmod and renames made in an active, and shows lower ownership and modes', async (t) => {
    const { root, backend } = await backendIn(t);
    await layer(backend, root, '1', [], { owned: 'o', moved: 'm', plain: 'p' });
    await chown(path.join(fsDir(root, '1'), 'owned'), 1000, 1001);
    await chmod(path.join(fsDir(root, '1'), 'owned'), 0o640);
    await withActive(backend, '2', ['1'], async (dir) => {
      const lower = await stat(path.join(dir, 'owned'));
      assert.deepEqual([lower.uid, lower.gid, lower.mode & 0o7777], [1000, 1001, 0o640]);
      await chown(path.join(dir, 'plain'), 1234, 5678);
      await chmod(path.join(dir, 'plain'), 0o600);
      await rename(path.join(dir, 'moved'), path.join(dir, 'renamed'));
    });
    await withView(backend, '3', ['2', '1'], async (dir) => {
      const changed = await stat(path.join(dir, 'plain'));
      assert.deepEqual([changed.uid, changed.gid, changed.mode & 0o7777], [1234, 5678, 0o600]);
      assert.equal(await readFile(path.join(dir, 'renamed'), 'utf8'), 'm');
      await expectErrno(stat(path.join(dir, 'moved')), 'ENOENT');
      assert.equal(await readFile(path.join(dir, 'plain'), 'utf8'), 'p');
    });
  });

  it('mounts every kind of view read-only', async (t) => {
    const { root, backend } = await backendIn(t);
    await layer(backend, root, '1', [], { a: '1' });
    await layer(backend, root, '2', ['1'], { b: '2' });
    const cases: Array<[string, string[]]> = [['10', []], ['11', ['1']], ['12', ['2', '1']]];
    for (const [id, parents] of cases) {
      await withView(backend, id, parents, async (dir) => {
        await expectErrno(writeFile(path.join(dir, 'x'), 'no'), 'EROFS');
        if (parents.length > 0) await expectErrno(unlink(path.join(dir, 'a')), 'EROFS');
      });
    }
  });

  it('creates fs 0755 and work 0711 whatever the umask it starts under, and the mount root shows 0755', async (t) => {
    const previous = process.umask(0o077);
    let started: Awaited<ReturnType<typeof backendIn>>;
    try {
      started = await backendIn(t);
      const { backend } = started;
      backend.publish(await backend.stage({ kind: 'active', parentIds: [], labels: {} }), '1');
      backend.publish(await backend.stage({ kind: 'active', parentIds: ['1'], labels: {} }), '2');
    } finally {
      process.umask(previous);
    }
    const { root, backend } = started;
    for (const id of ['1', '2']) {
      assert.equal((await stat(fsDir(root, id))).mode & 0o7777, 0o755);
      assert.equal((await stat(path.join(root, 'snapshots', id, 'work'))).mode & 0o7777, 0o711);
    }
    await withMounts(await backend.mounts(ref('2', 'active', ['1'])), async (dir) => {
      assert.equal((await stat(dir)).mode & 0o7777, 0o755);
    });
  });

  it('gives a child upper dir the owner of its parent root, as containerd does', async (t) => {
    const { root, backend } = await backendIn(t);
    await layer(backend, root, '1', []);
    await chown(fsDir(root, '1'), 4321, 8765);
    await layer(backend, root, '2', ['1']);
    const child = await stat(fsDir(root, '2'));
    assert.deepEqual([child.uid, child.gid], [4321, 8765]);
  });

  it('mounts a 128-layer chain from the exact Mounts output, absolute paths in one page', async (t) => {
    const { root, backend } = await backendIn(t);
    for (const id of chainIds(128).reverse()) await layer(backend, root, id, chainIds(Number(id) - 1), { [`layer-${id}`]: id, top: id });
    const parents = chainIds(128);
    const staged = await backend.stage({ kind: 'active', parentIds: parents, labels: {} });
    backend.publish(staged, '129');
    const [mount] = await backend.mounts(ref('129', 'active', parents));
    const data = mount.options.join(',');
    assert.ok(data.length <= MOUNT_DATA_LIMIT, `options are ${data.length} bytes`);
    const lowerdirs = mount.options.find((o) => o.startsWith('lowerdir='))!.slice('lowerdir='.length).split(':');
    assert.equal(lowerdirs.length, 128);
    assert.ok(lowerdirs.every((dir) => path.isAbsolute(dir)));
    const target = path.join(root, 'mnt');
    await mkdir(target);
    // Straight mount(8), no rewriting of the options.
    await runMountTool('mount', ['-t', mount.type, '-o', data, mount.source, target]);
    try {
      assert.equal(await readFile(path.join(target, 'top'), 'utf8'), '128');
      assert.equal(await readFile(path.join(target, 'layer-1'), 'utf8'), '1');
      assert.equal((await readdir(target)).length, 129);
    } finally {
      await unmount(target);
    }
  });

  it('mounts a 500-layer chain (the kernel limit) through mountAll', async (t) => {
    const { root, backend } = await backendIn(t);
    for (const id of chainIds(500).reverse()) await layer(backend, root, id, [], { [`layer-${id}`]: id, top: id });
    const parents = chainIds(500);
    await withActive(backend, '501', parents, async (dir) => {
      assert.equal(await readFile(path.join(dir, 'top'), 'utf8'), '500');
      assert.equal(await readFile(path.join(dir, 'layer-1'), 'utf8'), '1');
      assert.equal((await readdir(dir)).length, 501);
      await writeFile(path.join(dir, 'written'), 'up');
    });
    assert.equal(await readFile(path.join(fsDir(root, '501'), 'written'), 'utf8'), 'up');
  });
});

describe('overlay backend creation', () => {
  it('reports a root where overlay cannot keep upper dirs as Unavailable, and leaves no scratch behind', async (t) => {
    const root = await tempRoot(t);
    const [lower, upper, work, merged] = await Promise.all(
      ['lower', 'upper', 'work', 'merged'].map(async (name) => {
        await mkdir(path.join(root, name));
        return path.join(root, name);
      }),
    );
    await mountAll([{ type: 'overlay', source: 'overlay', options: [`workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower}`] }], merged);
    const store = MetaStore.open(path.join(root, 'metadata'));
    t.after(() => store.close());
    await assert.rejects(
      createOverlayBackend({ root: path.join(merged, 'strata'), objectStore: 'auto', store }),
      (err) => isSnapshotError(err, 'Unavailable'),
    );
    assert.deepEqual(await readdir(path.join(merged, 'strata', 'snapshots')), []);
  });
});
