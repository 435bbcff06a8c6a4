import assert from 'node:assert/strict';
import { readFile, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MAX_SIZE_LABEL } from '../../../src/backends/thin';
import { withMounts } from '../../../src/mount';
import { create, MiB, ref, skipReason, testCleanup, thinFixture } from './fixture';

describe('thin backend with xfs', { skip: skipReason }, () => {
  test('snapshots of an xfs base mount with nouuid, and xfs grows for max-size', async (t) => {
    // mkfs.xfs refuses file systems under 300 MB.
    const { backend, env } = await thinFixture(testCleanup(t), { fs_type: 'xfs', base_image_size: '320MiB', data_size: '512MiB' });
    const first = await create(backend, env, '1', 'active');
    const mounts = await backend.mounts(first);
    assert.equal(mounts[0].type, 'xfs');
    assert.deepEqual(mounts[0].options, ['nouuid', 'rw']);
    await withMounts(mounts, (dir) => writeFile(path.join(dir, 'hello'), 'from xfs'));
    await backend.commit(ref('1', 'active'));

    // Two snapshots of one file system (same UUID) mounted at once.
    const view = await create(backend, env, '2', 'view', ['1']);
    const grown = await create(backend, env, '3', 'active', ['1'], { [MAX_SIZE_LABEL]: String(640 * MiB) });
    const viewMounts = await backend.mounts(view);
    assert.deepEqual(viewMounts[0].options, ['nouuid', 'ro']);
    await withMounts(viewMounts, async (viewDir) => {
      await withMounts(await backend.mounts(grown), async (dir) => {
        assert.equal(await readFile(path.join(viewDir, 'hello'), 'utf8'), 'from xfs');
        assert.equal(await readFile(path.join(dir, 'hello'), 'utf8'), 'from xfs');
        const fs = await statfs(dir);
        assert.ok(fs.blocks * fs.bsize > 500 * MiB, `grown file system has ${fs.blocks * fs.bsize} bytes`);
      });
    });
  });
});
