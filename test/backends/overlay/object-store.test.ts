import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { createOverlayBackend, type ObjectStoreSetting, type OverlayBackend } from '../../../src/backends/overlay';
import { compareTrees } from '../../../src/changeset/compare';
import { encodeHeader, padding, type TarHeader } from '../../../src/changeset/tar-header';
import { applyToMounts } from '../../../src/diff/apply-layer';
import { withMounts } from '../../../src/mount';
import { objectName } from '../../../src/objects/names';
import { isSnapshotError } from '../../../src/snapshots/errors';
import { Snapshotter } from '../../../src/snapshots/snapshotter';
import { MetaStore } from '../../../src/store/metastore';
import { describeTree, makeRichTree } from '../../changeset/fixtures';
import { layerBytes } from '../../changeset/layer-io';
import { tempRoot } from '../../mount/temp-root';
import { storedObjects } from '../../support/stored-objects';
import { writableDir } from '../../support/writable-dir';

interface Strata {
  root: string;
  backend: OverlayBackend;
  snapshotter: Snapshotter;
  close(): Promise<void>;
}

async function strataIn(t: TestContext, objectStore: ObjectStoreSetting, root?: string): Promise<Strata> {
  root ??= await tempRoot(t);
  const store = MetaStore.open(path.join(root, 'metadata'));
  const backend = await createOverlayBackend({ root, objectStore, store });
  const snapshotter = new Snapshotter(store, backend, { syncRemove: false });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= backend.close().then(() => store.close()));
  t.after(close);
  return { root, backend, snapshotter, close };
}

/** Unpacks `layers` (uncompressed tars) as containerd does with strata's differ: Prepare, Apply, Commit; returns the top layer's name. */
async function unpack(strata: Strata, image: string, layers: Buffer[], parent = ''): Promise<string> {
  for (const [i, layer] of layers.entries()) {
    const key = `${image}-extract-${i}`;
    const mounts = await strata.snapshotter.prepare(key, parent, {});
    await applyToMounts(Readable.from([layer]), mounts, { strataRoot: strata.root, writeObjects: true });
    await strata.snapshotter.commit(`${image}-${i}`, key, {});
    parent = `${image}-${i}`;
  }
  return parent;
}

/** The tree a read-only view of `parent` shows, as the kernel mounts it. */
async function viewTree(strata: Strata, parent: string, key = `view-of-${parent}`): Promise<ReturnType<typeof describeTree>> {
  const mounts = await strata.snapshotter.view(key, parent, {});
  try {
    return await withMounts(mounts, async (dir) => describeTree(dir));
  } finally {
    await strata.snapshotter.remove(key);
  }
}

/** An uncompressed layer holding the fixture tree (every kind of entry, xattrs, owners). */
async function richLayer(t: TestContext): Promise<Buffer> {
  const dir = await tempRoot(t);
  fs.mkdirSync(path.join(dir, 'empty'));
  makeRichTree(path.join(dir, 'tree'));
  return layerBytes(compareTrees(path.join(dir, 'empty'), path.join(dir, 'tree')));
}

type Entry = Partial<TarHeader> & { name: string; content?: string };

/** A tar of `entries` written header by header, so it can carry anything a hostile layer would. */
function tarOf(entries: Entry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.content ?? '');
    const header: TarHeader = {
      type: 'file', mode: 0o644, uid: 0, gid: 0, mtimeNs: 1_600_000_000_000_000_000n, linkname: '', devMajor: 0, devMinor: 0,
      xattrs: new Map(), ...entry, size: entry.type === undefined || entry.type === 'file' ? body.length : 0,
    };
    parts.push(encodeHeader(header), body, padding(body.length));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha256 = (content: string) => createHash('sha256').update(content).digest();
const objectFile = (root: string, content: string) => path.join(root, 'objects', objectName(sha256(content)));

/** Data-only lower layers arrived in Linux 6.5; the Debian 12 VM runs 6.1. */
function kernelHasDataOnlyLayers(): boolean {
  const [major, minor] = os.release().split('.').map(Number);
  return major > 6 || (major === 6 && minor >= 5);
}
const needsDataOnlyLayers = { skip: kernelHasDataOnlyLayers() ? false : `kernel ${os.release()} has no overlayfs data-only layers` };

describe('overlay object store: choosing the mode', () => {
  it('"auto" uses the store exactly where the kernel reads data-only layers, and "on" refuses to start without them', async (t) => {
    const auto = await strataIn(t, 'auto');
    const { objectStore } = await auto.backend.status();
    if (kernelHasDataOnlyLayers()) {
      assert.equal(objectStore.mode, 'on');
      assert.equal(objectStore.reason, undefined);
      return;
    }
    assert.equal(objectStore.mode, 'off');
    assert.match(objectStore.reason ?? '', /data-only lower layer/);
    // Plain mode still works: a chain of two layers reads back.
    const top = await unpack(auto, 'img', [tarOf([{ name: 'a', content: 'one\n' }]), tarOf([{ name: 'b', content: 'two\n' }])]);
    assert.equal((await viewTree(auto, top))['a'].content, sha256('one\n').toString('hex'));
    const root = await tempRoot(t);
    const store = MetaStore.open(path.join(root, 'metadata'));
    t.after(() => store.close());
    await assert.rejects(createOverlayBackend({ root, objectStore: 'on', store }), (err) => isSnapshotError(err, 'Unavailable') && /object_store is "on"/.test(err.message));
  });
});

describe('overlay object store', needsDataOnlyLayers, () => {
  it('gives the same trees as plain mode, with every regular file a stub of no data blocks', async (t) => {
    const rich = await richLayer(t);
    const second = tarOf([
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/hostname', content: 'replaced\n', mode: 0o600, uid: 5, gid: 6 },
      { name: 'etc/linked', type: 'link', linkname: 'etc/hostname' },
      { name: 'a/.wh.b' },
      { name: 'new/', type: 'directory', mode: 0o750 },
      { name: 'new/big', content: 'b'.repeat(200_000) },
      { name: 'new/noted', content: 'with an xattr\n', xattrs: new Map([['user.note', Buffer.from('kept')]]) },
      { name: 'new/empty', content: '' },
    ]);
    const objects = await strataIn(t, 'on');
    const plain = await strataIn(t, 'off');
    const inObjects = await viewTree(objects, await unpack(objects, 'img', [rich, second]));
    const inPlain = await viewTree(plain, await unpack(plain, 'img', [rich, second]));
    assert.deepEqual(inObjects, inPlain);
    assert.equal(inObjects['etc/linked'].nlink, 2, 'a hard link within the layer stays one inode');
    assert.equal(inObjects['new/noted'].xattrs['user.note'], Buffer.from('kept').toString('hex'));

    const big = path.join(objects.root, 'snapshots');
    const stubs = fs.readdirSync(big).flatMap((id) => {
      const file = path.join(big, id, 'fs', 'new', 'big');
      return fs.existsSync(file) ? [fs.statSync(file)] : [];
    });
    assert.equal(stubs.length, 1);
    assert.equal(stubs[0].size, 200_000);
    assert.equal(stubs[0].blocks, 0, 'a stub holds no data');
    assert.equal(fs.statSync(objectFile(objects.root, 'b'.repeat(200_000))).size, 200_000);
    assert.equal((await objects.backend.status()).objectStore.mode, 'on');
  });

  it('stores a content shared by two images once, and Cleanup frees only what no image uses any more', async (t) => {
    const strata = await strataIn(t, 'on');
    const shared = 's'.repeat(50_000);
    const a = await unpack(strata, 'a', [tarOf([{ name: 'lib.so', content: shared }, { name: 'only-a', content: 'a only\n' }])]);
    const b = await unpack(strata, 'b', [tarOf([{ name: 'usr/lib.so', content: shared, mode: 0o755, uid: 3 }, { name: 'only-b', content: 'b only\n' }])]);
    assert.equal(storedObjects(strata.root).length, 3);
    const status = await strata.backend.status();
    assert.deepEqual([status.objectStore.objects, status.objectStore.bytes], [3, 50_000 + 14]);

    // Image b runs while image a goes away.
    const running = await strata.snapshotter.prepare('container-b', b, {});
    await withMounts(running, async (dir) => {
      const file = path.join(dir, 'usr/lib.so');
      await strata.snapshotter.remove(a);
      await strata.snapshotter.cleanup();
      assert.deepEqual(storedObjects(strata.root).sort(), [objectName(sha256(shared)), objectName(sha256('b only\n'))].sort());
      assert.equal(fs.readFileSync(file, 'utf8'), shared);
      assert.equal(fs.statSync(file).mode & 0o7777, 0o755, 'each path keeps its own metadata');
      assert.equal(fs.statSync(file).nlink, 1, 'a shared content is no hard link');
      // A write through one path copies up; the object, and every other path to it, stay as they were.
      fs.appendFileSync(file, 'changed by the container\n');
      assert.equal(fs.readFileSync(objectFile(strata.root, shared), 'utf8'), shared);
    });
    const other = await strata.snapshotter.prepare('another-b', b, {});
    await withMounts(other, async (dir) => assert.equal(fs.readFileSync(path.join(dir, 'usr/lib.so'), 'utf8'), shared));
    await strata.snapshotter.remove('another-b');
    await strata.snapshotter.remove('container-b');
    await strata.snapshotter.remove(b);
    await strata.snapshotter.cleanup();
    assert.deepEqual(storedObjects(strata.root), []);
    assert.deepEqual((await strata.backend.status()).objectStore.objects, 0);
  });

  it('keeps the objects of an applied layer that is not committed yet through Cleanup', async (t) => {
    const strata = await strataIn(t, 'on');
    const base = await unpack(strata, 'base', [tarOf([{ name: 'f', content: 'base\n' }])]);
    const mounts = await strata.snapshotter.prepare('extracting', base, {});
    await applyToMounts(Readable.from([tarOf([{ name: 'g', content: 'pending\n' }])]), mounts, { strataRoot: strata.root, writeObjects: true });
    await strata.snapshotter.cleanup();
    await strata.snapshotter.commit('top', 'extracting', {});
    const tree = await viewTree(strata, 'top');
    assert.equal(tree['g'].content, sha256('pending\n').toString('hex'));
  });

  it('takes the files a container wrote into the store at Commit, hard links and xattrs included', async (t) => {
    const strata = await strataIn(t, 'on');
    const base = await unpack(strata, 'base', [tarOf([{ name: 'etc/os-release', content: 'debian\n' }])]);
    const mounts = await strata.snapshotter.prepare('container', base, {});
    await withMounts(mounts, async (dir) => {
      fs.writeFileSync(path.join(dir, 'etc/os-release'), 'debian\n');
      fs.writeFileSync(path.join(dir, 'written'), 'by the container\n');
      fs.linkSync(path.join(dir, 'written'), path.join(dir, 'written-link'));
      fs.chmodSync(path.join(dir, 'written'), 0o4750);
    });
    await strata.snapshotter.commit('committed', 'container', {});
    const upper = path.join(strata.root, 'snapshots');
    const id = fs.readdirSync(upper).find((entry) => fs.existsSync(path.join(upper, entry, 'fs', 'written')))!;
    const stub = fs.statSync(path.join(upper, id, 'fs', 'written'));
    assert.equal(stub.blocks, 0);
    assert.equal(stub.nlink, 2);
    assert.equal(stub.mode & 0o7777, 0o4750);
    assert.equal(fs.statSync(objectFile(strata.root, 'by the container\n')).mode & 0o7777, 0o400, 'an adopted inode is sealed');
    assert.equal(storedObjects(strata.root).length, 2, 'the rewritten os-release shares the base layer\'s object');
    const tree = await viewTree(strata, 'committed');
    assert.equal(tree['written'].content, sha256('by the container\n').toString('hex'));
    assert.equal(tree['written-link'].nlink, 2);
    assert.equal(tree['written'].mode, '4750');
  });

  it('never lets a layer\'s own overlay xattrs act: a forged redirect cannot read another image\'s object', async (t) => {
    const strata = await strataIn(t, 'on');
    const secret = 'another image\'s secret\n';
    await unpack(strata, 'victim', [tarOf([{ name: 'secret', content: secret }])]);
    const forged = new Map([
      ['trusted.overlay.metacopy', Buffer.alloc(0)],
      ['trusted.overlay.redirect', Buffer.from(`/${objectName(sha256(secret))}`)],
    ]);
    const attacker = await unpack(strata, 'attacker', [tarOf([
      { name: 'steal', content: 'x'.repeat(secret.length), xattrs: forged },
      { name: 'steal-empty', content: '', xattrs: forged },
    ])]);
    const tree = await viewTree(strata, attacker);
    assert.equal(tree['steal'].content, sha256('x'.repeat(secret.length)).toString('hex'));
    assert.equal(tree['steal-empty'].content, sha256('').toString('hex'));
  });

  it('refuses to commit a layer whose stub lost its object', async (t) => {
    const strata = await strataIn(t, 'on');
    const mounts = await strata.snapshotter.prepare('extracting', '', {});
    await applyToMounts(Readable.from([tarOf([{ name: 'f', content: 'gone\n' }])]), mounts, { strataRoot: strata.root, writeObjects: true });
    // Without its manifest the layer is walked at Commit, as one written through a mount is.
    const snapshotDir = path.dirname(writableDir(mounts));
    fs.rmSync(path.join(snapshotDir, 'objects'));
    fs.rmSync(objectFile(strata.root, 'gone\n'));
    await assert.rejects(strata.snapshotter.commit('layer', 'extracting', {}), /missing/);
  });

  it('keeps reading a root across a change of mode: plain layers under object ones, and says when it cannot', async (t) => {
    const root = await tempRoot(t);
    const plainStart = await strataIn(t, 'off', root);
    const base = await unpack(plainStart, 'base', [tarOf([{ name: 'plain', content: 'from plain mode\n' }])]);
    await plainStart.close();
    const objectStart = await strataIn(t, 'on', root);
    const top = await unpack(objectStart, 'top', [tarOf([{ name: 'stored', content: 'from object mode\n' }])], base);
    const tree = await viewTree(objectStart, top);
    assert.equal(tree['plain'].content, sha256('from plain mode\n').toString('hex'));
    assert.equal(tree['stored'].content, sha256('from object mode\n').toString('hex'));
    await objectStart.close();

    // Back in plain mode, a chain with stubs cannot be shown; one without still can.
    const plainAgain = await strataIn(t, 'off', root);
    await assert.rejects(plainAgain.snapshotter.view('stubbed', top, {}), (err) => isSnapshotError(err, 'FailedPrecondition'));
    assert.equal((await viewTree(plainAgain, base))['plain'].content, sha256('from plain mode\n').toString('hex'));
  });
});
