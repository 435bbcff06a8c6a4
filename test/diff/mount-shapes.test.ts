import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { overlayDirs, readOnly, readOnlyLayers } from '../../src/diff/mount-shapes';
import type { Mount } from '../../src/snapshots/types';

const overlay = (...options: string[]): Mount[] => [{ type: 'overlay', source: 'overlay', options }];

describe('mount shapes with data-only overlay layers', () => {
  it('splits the layers the merged tree shows from the data-only ones', () => {
    assert.deepEqual(
      overlayDirs(overlay('index=off', 'workdir=/r/w', 'upperdir=/r/u', 'lowerdir=/r/l/7:/r/l/3::/r/objects::/r/lazy', 'metacopy=on', 'redirect_dir=on')),
      { upperDir: '/r/u', lowerDirs: ['/r/l/7', '/r/l/3'], dataDirs: ['/r/objects', '/r/lazy'], userxattr: false },
    );
    assert.deepEqual(overlayDirs(overlay('lowerdir=/r/l/2:/r/l/1', 'userxattr')), { upperDir: undefined, lowerDirs: ['/r/l/2', '/r/l/1'], dataDirs: [], userxattr: true });
  });

  it('takes no layout the kernel refuses: a regular layer below a data-only one, an empty or relative layer', () => {
    for (const lowerdir of ['/a::/d:/b', '/a::', '::/d', '/a:::/d', 'a::/d', '/a::d']) {
      assert.equal(overlayDirs(overlay(`lowerdir=${lowerdir}`)), undefined, lowerdir);
    }
  });

  it('a view stacks its regular layers only, even with one parent', () => {
    assert.deepEqual(readOnlyLayers(overlay('index=off', 'lowerdir=/r/l/3::/r/objects', 'metacopy=on', 'redirect_dir=on')), ['/r/l/3']);
    assert.deepEqual(readOnlyLayers(overlay('lowerdir=/r/l/7:/r/l/3::/r/objects')), ['/r/l/7', '/r/l/3']);
    assert.equal(readOnlyLayers(overlay('upperdir=/r/u', 'workdir=/r/w', 'lowerdir=/r/empty::/r/objects')), undefined);
  });

  it('made read-only, an active overlay keeps its data-only layers and metacopy/redirect_dir options', () => {
    const active = overlay('index=off', 'workdir=/r/w', 'upperdir=/r/u', 'lowerdir=/r/l/7:/r/l/3::/r/objects::/r/lazy', 'metacopy=on', 'redirect_dir=on');
    assert.deepEqual(readOnly(active)[0].options, ['index=off', 'lowerdir=/r/u:/r/l/7:/r/l/3::/r/objects::/r/lazy', 'metacopy=on', 'redirect_dir=on']);
    const parentless = overlay('index=off', 'workdir=/r/w', 'upperdir=/r/u', 'lowerdir=/r/empty::/r/objects', 'metacopy=on', 'redirect_dir=on');
    assert.deepEqual(readOnlyLayers(readOnly(parentless)), ['/r/u', '/r/empty']);
  });
});
