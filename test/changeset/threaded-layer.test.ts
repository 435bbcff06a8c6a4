import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import { UNTOLD } from '../../src/changeset/change-source';
import { compareTrees } from '../../src/changeset/compare';
import { withLayerInThread } from '../../src/changeset/threaded-layer';
import { isSnapshotError } from '../../src/snapshots/errors';
import { tempDir } from './fixtures';
import { collect, layerBytes } from './layer-io';

/** A lower and an upper tree with every kind of change, and a file of `bigBytes`. */
function trees(dir: string, bigBytes = 1000): { lower: string; upper: string } {
  const lower = path.join(dir, 'lower');
  const upper = path.join(dir, 'upper');
  for (const root of [lower, upper]) {
    fs.mkdirSync(path.join(root, 'd/e'), { recursive: true });
    fs.writeFileSync(path.join(root, 'd/same'), 'same');
  }
  fs.utimesSync(path.join(upper, 'd/same'), fs.statSync(path.join(lower, 'd/same')).atime, fs.statSync(path.join(lower, 'd/same')).mtime);
  fs.writeFileSync(path.join(lower, 'gone'), 'gone');
  fs.writeFileSync(path.join(lower, 'd/e/changed'), 'before');
  fs.writeFileSync(path.join(upper, 'd/e/changed'), 'after, longer');
  fs.writeFileSync(path.join(upper, 'big'), Buffer.alloc(bigBytes, 7));
  fs.symlinkSync('big', path.join(upper, 'link'));
  fs.linkSync(path.join(upper, 'big'), path.join(upper, 'd/hardlink'));
  return { lower, upper };
}

test('a layer made in a changeset thread is the layer made in this one, byte for byte', async (t) => {
  const source = trees(tempDir(t, 'thl'), 3 * 1024 * 1024 + 17);
  const here = await layerBytes(compareTrees(source.lower, source.upper));
  const threaded = await withLayerInThread({ trees: source }, {}, collect);
  assert.ok(threaded !== UNTOLD);
  assert.ok(threaded.equals(here));
  // Reproducible layers: the thread gets the epoch too.
  const epoch = new Date('2020-01-01T00:00:00Z');
  const clampedHere = await layerBytes(compareTrees(source.lower, source.upper), { compression: 'none', sourceDateEpoch: epoch });
  const clamped = await withLayerInThread({ trees: source }, { sourceDateEpoch: epoch }, collect);
  assert.ok(clamped !== UNTOLD && clamped.equals(clampedHere) && !clamped.equals(here));
});

test('an upper dir that cannot tell the changes alone is answered UNTOLD, and the thread serves the next job', async (t) => {
  const dir = tempDir(t, 'thl');
  const upper = path.join(dir, 'upper');
  fs.mkdirSync(path.join(upper, 'moved'), { recursive: true });
  // A renamed directory: its content is elsewhere in the lower layers.
  setAttributeSync(path.join(upper, 'moved'), 'user.overlay.redirect', Buffer.from('/old'));
  let used = false;
  const told = await withLayerInThread({ overlay: { upper, lowers: [], options: { userxattr: true } } }, {}, async () => (used = true));
  assert.equal(told, UNTOLD);
  assert.equal(used, false);
  const source = trees(dir);
  assert.ok((await withLayerInThread({ trees: source }, {}, collect)) !== UNTOLD);
});

test("the thread's error reaches the caller with its kind", async (t) => {
  const dir = tempDir(t, 'thl');
  const upper = path.join(dir, 'upper');
  const data = path.join(dir, 'data');
  fs.mkdirSync(upper);
  fs.mkdirSync(data);
  fs.writeFileSync(path.join(upper, 'stub'), '');
  setAttributeSync(path.join(upper, 'stub'), 'user.overlay.metacopy', Buffer.alloc(0));
  setAttributeSync(path.join(upper, 'stub'), 'user.overlay.redirect', Buffer.from('/../../etc/passwd'));
  await assert.rejects(
    withLayerInThread({ overlay: { upper, lowers: [], options: { userxattr: true, dataDirs: [data] } } }, {}, collect),
    (err) => isSnapshotError(err, 'FailedPrecondition') && /contains '\.\.'/.test((err as Error).message),
  );
});

test('a caller that stops reading midway gets its own error, and the stopped thread holds nothing up', async (t) => {
  // More than the chunks the thread may send ahead: it is left waiting for room.
  const source = trees(tempDir(t, 'thl'), 8 * 1024 * 1024);
  await assert.rejects(withLayerInThread({ trees: source }, {}, async (layer) => {
    for await (const chunk of layer) throw new Error(`stopped after ${chunk.length} bytes`);
  }), /stopped after 1048576 bytes/);
  const again = await withLayerInThread({ trees: source }, {}, collect);
  assert.ok(again !== UNTOLD && again.length > 8 * 1024 * 1024);
});
