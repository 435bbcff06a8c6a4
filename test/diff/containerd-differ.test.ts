/**
 * strata as containerd 1.7's snapshotter and differ at once (two proxy
 * plugins on one socket, strata's differ first): `ctr image import` must
 * give the same root file system as a plain containerd (overlayfs and the
 * walking differ), and `ctr snapshot diff` must go through strata.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { promisify } from 'node:util';
import { applyLayer } from '../../src/changeset';
import { after, before, describe, test } from 'node:test';
import { ctrToFile } from '../e2e/support/ctr-to-file';
import { chainIds } from '../e2e/support/chain-ids';
import { layerEntries } from '../e2e/support/layer-entries';
import { startContainerd, type Containerd } from '../support/containerd';
import { buildOciImage, busyboxRootfsLayer, type BuiltOciImage } from '../support/oci-image';
import { TEST_BACKEND } from '../support/strata-server';
import { startStrataWithContainerd, type StrataWithContainerd } from '../support/strata-with-containerd';
import { base, third, top } from './fixture-layers';
import { treeListing } from './tree-listing';

const exec = promisify(execFile);
const IMAGE = 'strata.test/differ:1';
/** busybox under the fixture's layers: something a container can run. */
const RUNNABLE = 'strata.test/differ-run:1';

describe('containerd with strata as snapshotter and differ', () => {
  let dir: string;
  let image: string;
  let runnable: string;
  let built: BuiltOciImage;
  let reference: Containerd | undefined;
  let pair: StrataWithContainerd | undefined;
  let containerd: Containerd | undefined;
  // Proxy differs are not told the namespace, so strata is configured with the one the test uses.
  const ns = `sd${randomBytes(4).toString('hex')}`;
  const mounted: Array<{ on: Containerd; target: string }> = [];

  before(async () => {
    dir = await fs.mkdtemp('/tmp/sx-');
    image = path.join(dir, 'image.tar');
    built = await buildOciImage({ name: IMAGE, layers: [base, top, third] }, image);
    runnable = path.join(dir, 'runnable.tar');
    await buildOciImage({ name: RUNNABLE, layers: [busyboxRootfsLayer({ compression: 'gzip' }), base, top] }, runnable);
    pair = await startStrataWithContainerd(dir, ns);
    containerd = pair.containerd;
    reference = await startContainerd({ dir: path.join(dir, 'ref') });
  });

  after(async () => {
    for (const { on, target } of mounted.reverse()) await on.ctr(['-n', ns, 'image', 'unmount', '--rm', target]).catch(() => undefined);
    await pair?.stop();
    await reference?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** Mounts the imported image's root file system from `on` and lists it. */
  async function rootfsListing(on: Containerd, snapshotter: string, name: string): Promise<string[]> {
    const target = path.join(dir, `m-${name}`);
    await fs.mkdir(target);
    await on.ctrOk(['-n', ns, 'image', 'mount', '--snapshotter', snapshotter, IMAGE, target]);
    mounted.push({ on, target });
    return treeListing(target);
  }

  test('ctr image import unpacks through strata and gives the tree containerd overlayfs and walking give', async () => {
    await containerd!.ctrOk(['-n', ns, 'image', 'import', '--snapshotter', 'strata', image]);
    assert.ok(await pair!.diffCalls('Apply') >= 3, 'strata applied every layer');
    await reference!.ctrOk(['-n', ns, 'image', 'import', image]);

    const onStrata = await rootfsListing(containerd!, 'strata', 'strata');
    const onReference = await rootfsListing(reference!, 'overlayfs', 'ref');
    assert.ok(onStrata.some((l) => /^data\/h1 mode=644 owner=0:0 file size=5 links=2 /.test(l)), onStrata.join('\n'));
    assert.ok(onStrata.some((l) => /^opt\/deep\/er\/f mode=644 owner=3:4 file /.test(l)), onStrata.join('\n'));
    assert.ok(!onStrata.some((l) => l.startsWith('etc/removed.txt') || l.startsWith('data/old/x.txt') || l.startsWith('data/gone')));
    assert.deepEqual(onStrata, onReference);
  });

  test('ctr snapshot diff of a committed layer goes through strata\'s differ', async () => {
    const before = await pair!.diffCalls('Diff');
    const topChain = chainIds(built.diffIds)[1];
    const out = path.join(dir, 'snapshot-diff.tar.gz');
    await ctrToFile({ ...containerd!, namespace: ns }, ['snapshot', '--snapshotter', 'strata', 'diff', topChain], out);
    assert.equal(await pair!.diffCalls('Diff'), before + 1);
    const names = (await layerEntries(out)).map((e) => e.name);
    assert.ok(names.includes('etc/.wh.removed.txt') && names.includes('data/.wh.gone'), names.join('\n'));
    // An overlay upper dir records that data/old turned opaque; a thin device's tree compare sees its old file deleted instead.
    const replaced = TEST_BACKEND === 'overlay' ? 'data/old/.wh..wh..opq' : 'data/old/.wh.x.txt';
    assert.ok(names.includes(replaced) && names.includes('data/old/y.txt'), names.join('\n'));
  });

  test('a container\'s changes, taken with ctr snapshot diff, go through strata\'s differ', async () => {
    await containerd!.ctrOk(['-n', ns, 'image', 'import', '--snapshotter', 'strata', runnable]);
    const id = `changes-${randomBytes(3).toString('hex')}`;
    const script = 'echo changed > /data/a.txt && echo new > /data/new.txt && rm /data/owned && rm -r /data/old && mkdir /data/old && echo fresh > /data/old/z.txt';
    await containerd!.ctrOk(['-n', ns, 'run', '--snapshotter', 'strata', RUNNABLE, id, 'sh', '-c', script]);
    try {
      const before = await pair!.diffCalls('Diff');
      const out = path.join(dir, 'container-diff.tar');
      // The container's snapshot is named after it; its parent is the image's top layer.
      await ctrToFile({ ...containerd!, namespace: ns }, ['snapshot', '--snapshotter', 'strata', 'diff', '--media-type', 'application/vnd.oci.image.layer.v1.tar', id], out);
      assert.equal(await pair!.diffCalls('Diff'), before + 1, 'strata served the Diff');
      const entries = await layerEntries(out);
      const names = entries.map((e) => e.name);
      for (const expected of ['data/a.txt', 'data/new.txt', 'data/.wh.owned', 'data/old/z.txt']) {
        assert.ok(names.includes(expected), `${expected} in the container's diff:\n${names.join('\n')}`);
      }
      // The hard link's other name and the untouched files stay out of the changeset.
      assert.ok(!names.includes('data/sym') && !names.includes('data/three.txt') && !names.includes('bin/busybox'), names.join('\n'));
      // The recreated directory replaces the old one: y.txt is hidden, by an opaque marker or a whiteout.
      assert.ok(names.includes('data/old/.wh..wh..opq') || names.includes('data/old/.wh.y.txt'), names.join('\n'));
    } finally {
      await containerd!.ctr(['-n', ns, 'containers', 'rm', id]);
    }
  });

  // With the object store, a container's chmod leaves a metacopy copy-up and a
  // directory rename a redirect dir in its upper dir: content that lives in the
  // lower layers under other names, which the diff must still carry.
  test('a container\'s chmod, append, file and directory renames: its ctr snapshot diff, applied onto its image in plain form, gives its tree', async () => {
    await containerd!.ctrOk(['-n', ns, 'image', 'import', '--snapshotter', 'strata', runnable]);
    await reference!.ctrOk(['-n', ns, 'image', 'import', runnable]);
    const id = `renames-${randomBytes(3).toString('hex')}`;
    const script = [
      'chmod 640 /data/owned', 'mv /data/owned /data/owned-moved', 'echo appended >> /data/three.txt',
      'mv /data/old /data/old-moved', 'chmod 700 /data/old-moved',
    ].join(' && ');
    await containerd!.ctrOk(['-n', ns, 'run', '--snapshotter', 'strata', RUNNABLE, id, 'sh', '-c', script]);
    try {
      const layer = path.join(dir, 'renames.tar');
      await ctrToFile({ ...containerd!, namespace: ns }, ['snapshot', '--snapshotter', 'strata', 'diff', '--media-type', 'application/vnd.oci.image.layer.v1.tar', id], layer);
      const names = (await layerEntries(layer)).map((e) => e.name);
      assert.ok(names.includes('data/old-moved/y.txt'), `a renamed directory is carried whole:\n${names.join('\n')}`);

      // The container's tree, as the kernel shows it.
      const containerRoot = path.join(dir, `m-${id}`);
      await fs.mkdir(containerRoot);
      const mountCommand = await containerd!.ctrOk(['-n', ns, 'snapshot', '--snapshotter', 'strata', 'mounts', containerRoot, id]);
      await exec('sh', ['-c', mountCommand]);
      let expected: string[];
      try {
        expected = await treeListing(containerRoot);
      } finally {
        await exec('umount', [containerRoot]);
      }

      // The image as plain directories (containerd's own overlayfs), copied, with the diff applied.
      const imageRoot = path.join(dir, `m-image-${id}`);
      await fs.mkdir(imageRoot);
      await reference!.ctrOk(['-n', ns, 'image', 'mount', RUNNABLE, imageRoot]);
      const rebuilt = path.join(dir, `rebuilt-${id}`);
      try {
        await exec('cp', ['-a', imageRoot, rebuilt]);
      } finally {
        await reference!.ctrOk(['-n', ns, 'image', 'unmount', imageRoot]);
      }
      await applyLayer(createReadStream(layer), rebuilt, { mode: 'directory' });
      assert.deepEqual(await treeListing(rebuilt), expected);
      assert.ok(expected.some((line) => line.startsWith('data/owned-moved mode=640 ')), expected.join('\n'));
    } finally {
      await containerd!.ctr(['-n', ns, 'containers', 'rm', id]);
    }
  });
});
