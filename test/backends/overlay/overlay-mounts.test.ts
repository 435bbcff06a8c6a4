import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { uidMapShowsUserNamespace } from '../../../src/backends/overlay/features';
import { OverlayLayout } from '../../../src/backends/overlay/layout';
import { overlayMounts } from '../../../src/backends/overlay/mounts';
import { isSnapshotError } from '../../../src/snapshots/errors';
import { ref } from './fixture';

const layout = new OverlayLayout('/r');
const allFeatures = { indexOff: true, userxattr: true };
const noFeatures = { indexOff: false, userxattr: false };

describe('overlay mounts (containerd overlayfs shapes)', () => {
  it('binds an active without parents read-write', () => {
    assert.deepEqual(overlayMounts(layout, allFeatures, ref('1', 'active')), [
      { type: 'bind', source: '/r/snapshots/1/fs', options: ['rw', 'rbind'] },
    ]);
  });

  it('overlays an active on its parents, nearest first, in containerd option order', () => {
    assert.deepEqual(overlayMounts(layout, allFeatures, ref('9', 'active', ['3', '2', '1'])), [
      {
        type: 'overlay',
        source: 'overlay',
        options: [
          'index=off',
          'userxattr',
          'workdir=/r/snapshots/9/work',
          'upperdir=/r/snapshots/9/fs',
          'lowerdir=/r/snapshots/3/fs:/r/snapshots/2/fs:/r/snapshots/1/fs',
        ],
      },
    ]);
  });

  it('leaves out index=off and userxattr when the kernel or namespace does not call for them', () => {
    const [mount] = overlayMounts(layout, noFeatures, ref('9', 'active', ['1']));
    assert.deepEqual(mount.options, [
      'workdir=/r/snapshots/9/work',
      'upperdir=/r/snapshots/9/fs',
      'lowerdir=/r/snapshots/1/fs',
    ]);
  });

  it('binds a view of one parent read-only to the parent', () => {
    assert.deepEqual(overlayMounts(layout, allFeatures, ref('5', 'view', ['4'])), [
      { type: 'bind', source: '/r/snapshots/4/fs', options: ['ro', 'rbind'] },
    ]);
  });

  it('overlays a view of several parents with lower dirs only', () => {
    assert.deepEqual(overlayMounts(layout, allFeatures, ref('5', 'view', ['4', '2'])), [
      { type: 'overlay', source: 'overlay', options: ['index=off', 'userxattr', 'lowerdir=/r/snapshots/4/fs:/r/snapshots/2/fs'] },
    ]);
  });

  it('binds a view without parents read-only to its own empty dir', () => {
    assert.deepEqual(overlayMounts(layout, allFeatures, ref('5', 'view')), [
      { type: 'bind', source: '/r/snapshots/5/fs', options: ['ro', 'rbind'] },
    ]);
  });

  it('refuses committed snapshots and ids that are not numeric', () => {
    assert.throws(() => overlayMounts(layout, allFeatures, ref('1', 'committed')), (err) => isSnapshotError(err, 'FailedPrecondition'));
    assert.throws(() => overlayMounts(layout, allFeatures, ref('../x', 'active')), (err) => isSnapshotError(err, 'InvalidArgument'));
    assert.throws(() => overlayMounts(layout, allFeatures, ref('2', 'active', ['1/fs:/etc'])), (err) => isSnapshotError(err, 'InvalidArgument'));
  });

  it('refuses a relative root', () => {
    assert.throws(() => new OverlayLayout('var/lib/strata'), (err) => isSnapshotError(err, 'InvalidArgument'));
  });
});

describe('user namespace detection from uid_map', () => {
  it('sees the initial namespace in a full identity map', () => {
    assert.equal(uidMapShowsUserNamespace('         0          0 4294967295\n'), false);
  });
  it('sees a user namespace in a partial map or an empty one', () => {
    assert.equal(uidMapShowsUserNamespace('         0       1000          1\n'), true);
    assert.equal(uidMapShowsUserNamespace(''), true);
  });
  it('takes an unparsable map as the initial namespace, as containerd does', () => {
    assert.equal(uidMapShowsUserNamespace('garbage'), false);
  });
});
