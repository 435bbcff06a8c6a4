import assert from 'node:assert/strict';
import { readlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { commonParent, fitOverlayOptions, MOUNT_DATA_LIMIT } from '../../src/mount/overlay-options';
import { isSnapshotError } from '../../src/snapshots/errors';

const lowerdirOf = (options: string[]) => options.find((o) => o.startsWith('lowerdir='))!.slice('lowerdir='.length).split(':');

describe('fitting overlay options in one page', () => {
  it('finds the deepest common parent directory', () => {
    assert.equal(commonParent(['/r/snapshots/1/fs', '/r/snapshots/22/fs']), '/r/snapshots');
    assert.equal(commonParent(['/r/snapshots/1/fs']), '/r/snapshots/1');
    assert.equal(commonParent(['/a/x', '/b/y']), '/');
    assert.equal(commonParent(['/r/snap/1/fs', '/r/snapshots/2/fs']), '/r');
  });

  it('keeps options that fit as they are', async () => {
    const options = ['index=off', 'lowerdir=/r/snapshots/2/fs:/r/snapshots/1/fs'];
    const fitted = await fitOverlayOptions(options);
    assert.deepEqual(fitted.options, options);
    assert.equal(fitted.cwd, undefined);
  });

  it('makes long chains relative to their common parent, keeping other options', async () => {
    const ids = Array.from({ length: 300 }, (_, i) => String(300 - i));
    const options = ['index=off', 'workdir=/r/snapshots/301/work', 'upperdir=/r/snapshots/301/fs', `lowerdir=${ids.map((id) => `/var/lib/strata/snapshots/${id}/fs`).join(':')}`];
    assert.ok(options.join(',').length > MOUNT_DATA_LIMIT);
    const fitted = await fitOverlayOptions(options);
    assert.equal(fitted.cwd, '/var/lib/strata/snapshots');
    assert.deepEqual(fitted.options.slice(0, 3), options.slice(0, 3));
    assert.deepEqual(lowerdirOf(fitted.options), ids.map((id) => `${id}/fs`));
    await fitted.release();
  });

  it('falls back to numbered links when relative paths are still too long, and releases them', async () => {
    const lowers = Array.from({ length: 500 }, (_, i) => `/var/lib/strata/snapshots/${1_000_000_000 + i}/fs`);
    const fitted = await fitOverlayOptions([`lowerdir=${lowers.join(':')}`]);
    assert.ok(fitted.options.join(',').length <= MOUNT_DATA_LIMIT);
    assert.deepEqual(lowerdirOf(fitted.options).slice(0, 3), ['0', '1', '2']);
    assert.equal(await readlink(path.join(fitted.cwd!, '499')), lowers[499]);
    await fitted.release();
    await assert.rejects(readlink(path.join(fitted.cwd!, '0')), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });

  it('refuses over-long options it cannot shorten', async () => {
    const invalid = (err: unknown) => isSnapshotError(err, 'InvalidArgument');
    await assert.rejects(fitOverlayOptions([`upperdir=/${'x'.repeat(5000)}`]), invalid);
    await assert.rejects(fitOverlayOptions([`lowerdir=${Array(600).fill('relative/dir').join(':')}`]), invalid);
  });
});
