/**
 * strata's Diff service over its own socket, against a real containerd 1.7
 * content store: layers ingested with `ctr content ingest` applied to
 * snapshots from strata's Prepare, diffs read back with `ctr content get`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createGunzip } from 'node:zlib';
import type { SnapshotsClient } from '../../src/client/snapshots-client';
import { LAYER_TAR, LAYER_TAR_ZSTD, UNCOMPRESSED_LABEL } from '../../src/diff';
import { withMounts } from '../../src/mount';
import type { Mount } from '../../src/snapshots/types';
import { ctrToFile } from '../e2e/support/ctr-to-file';
import { layerEntries } from '../e2e/support/layer-entries';
import { startContainerd, type Containerd } from '../support/containerd';
import type { LayerSpec } from '../support/oci-image';
import { type DiffClient, failure } from './diff-client';
import { base, top } from './fixture-layers';
import { layerBlobs, type LayerBlob } from './layer-blobs';
import { spawnStrataDiffer, type StrataDiffer } from './strata-differ';
import { treeListing } from './tree-listing';

const tamperable: LayerSpec = { entries: [{ type: 'file', path: 'x.txt', content: 'aaaaaaaa\n' }] };

async function sha256File(file: string, gunzip = false): Promise<string> {
  const hash = createHash('sha256');
  const stream = gunzip ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

const upperDirOf = (mounts: Mount[]) => mounts[0].options.find((o) => o.startsWith('upperdir='))!.slice('upperdir='.length);

describe('the Diff service against containerd 1.7 content', () => {
  let dir: string;
  let containerd: Containerd;
  let strata: StrataDiffer | undefined;
  let snapshots: SnapshotsClient;
  let differ: DiffClient;
  let blobs: LayerBlob[];

  before(async () => {
    dir = await fs.mkdtemp('/tmp/sd-');
    containerd = await startContainerd({ dir: path.join(dir, 'c') });
    strata = await spawnStrataDiffer(dir, containerd.address, containerd.namespace);
    ({ snapshots, differ } = strata);
    blobs = await layerBlobs([base, top, tamperable], path.join(dir, 'blobs'));
    for (const blob of blobs) {
      await containerd.ctrOk(['content', 'ingest', '--expected-digest', blob.digest, '--expected-size', String(blob.size), `ingest-${blob.digest}`], {
        input: await fs.readFile(blob.file),
      });
    }
  });

  after(async () => {
    await strata?.stop();
    await containerd?.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const descriptorOf = (blob: LayerBlob) => ({ media_type: blob.mediaType, digest: blob.digest, size: blob.size });

  test('applies a gzip layer to a bind mount and a plain one straight into an overlay upper dir', async () => {
    const first = await differ.apply(descriptorOf(blobs[0]), await snapshots.prepare('apply-1'));
    assert.deepEqual([first.media_type, first.digest], [LAYER_TAR, blobs[0].diffId]);
    await snapshots.commit('layer-1', 'apply-1');

    const mounts = await snapshots.prepare('apply-2', 'layer-1');
    assert.equal(mounts[0].type, 'overlay');
    const second = await differ.apply(descriptorOf(blobs[1]), mounts);
    assert.deepEqual([second.media_type, second.digest], [LAYER_TAR, blobs[1].diffId]);
    // Written in overlay format, not through a mount: the deletion is a whiteout device in the upper dir.
    const whiteout = await fs.lstat(path.join(upperDirOf(mounts), 'etc', 'removed.txt'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'expected a 0/0 whiteout in the upper dir');
    await snapshots.commit('layer-2', 'apply-2');

    const tree = await withMounts(await snapshots.view('apply-view', 'layer-2'), treeListing);
    await snapshots.remove('apply-view');
    assert.deepEqual(tree.map((line) => line.split(' ')[0]), [
      'data', 'data/a-link', 'data/a.txt', 'data/old', 'data/old/y.txt', 'data/owned', 'data/sym', 'data/three.txt', 'etc',
    ]);
    assert.match(tree.find((l) => l.startsWith('data/a.txt '))!, /links=2/);
    assert.match(tree.find((l) => l.startsWith('data/owned '))!, /mode=600 owner=1000:1001/);
    assert.match(tree.find((l) => l.startsWith('data/sym '))!, /symlink -> a\.txt$/);
  });

  test('writes the diff of an active overlay into the content store, with labels, under a lease', async () => {
    const active = await snapshots.prepare('diff-active', 'layer-2');
    await withMounts(active, async (root) => {
      await fs.writeFile(path.join(root, 'data', 'new.txt'), 'new\n');
      await fs.rm(path.join(root, 'data', 'three.txt'));
    });
    const left = await snapshots.view('diff-parent', 'layer-2');
    const desc = await differ.diff(left, active, { ref: 'strata-test-diff', labels: { 'test.strata/origin': 'diff-service' } });
    await snapshots.remove('diff-parent');
    assert.equal(desc.media_type, 'application/vnd.oci.image.layer.v1.tar+gzip');

    const file = path.join(dir, 'diff.tar.gz');
    await ctrToFile(containerd, ['content', 'get', desc.digest], file);
    assert.equal(await sha256File(file), desc.digest);
    assert.equal((await fs.stat(file)).size, Number(desc.size));
    assert.deepEqual((await layerEntries(file)).map((e) => e.name), ['data/', 'data/new.txt', 'data/.wh.three.txt']);

    const listed = (await containerd.ctrOk(['content', 'ls'])).split('\n').find((line) => line.startsWith(desc.digest));
    assert.ok(listed, `${desc.digest} is not in ctr content ls`);
    assert.match(listed, new RegExp(`${UNCOMPRESSED_LABEL}=${await sha256File(file, true)}`));
    assert.match(listed, /test\.strata\/origin=diff-service/);
    assert.match(await containerd.ctrOk(['leases', 'ls']), /strata-[0-9a-f]+ .*containerd\.io\/gc\.expire=/);
  });

  test('compares mounted trees when the fast path does not apply, in the media type asked for', async () => {
    const right = await snapshots.view('diff-full', 'layer-1');
    const tar = await differ.diff([], right, { media_type: LAYER_TAR });
    const tarFile = path.join(dir, 'full.tar');
    await ctrToFile(containerd, ['content', 'get', tar.digest], tarFile);
    assert.deepEqual((await layerEntries(tarFile)).map((e) => `${e.name} ${e.type}`), [
      'data/ directory', 'data/a-link file', 'data/a.txt link', 'data/gone/ directory', 'data/gone/f.txt file',
      'data/old/ directory', 'data/old/x.txt file', 'data/owned file', 'data/sym symlink', 'etc/ directory', 'etc/removed.txt file',
    ]);
    const zstd = await differ.diff([], right, { media_type: LAYER_TAR_ZSTD });
    await snapshots.remove('diff-full');
    const file = path.join(dir, 'diff.tar.zst');
    await ctrToFile(containerd, ['content', 'get', zstd.digest], file);
    const magic = (await fs.readFile(file)).subarray(0, 4);
    assert.deepEqual([...magic], [0x28, 0xb5, 0x2f, 0xfd]);
  });

  test('mounts a foreign overlay to apply through it, and mounts an overlay view to diff it against nothing', async () => {
    const foreign = path.join(dir, 'foreign');
    const [lower, upper, work] = ['lower', 'upper', 'work'].map((d) => path.join(foreign, d));
    for (const d of [lower, upper, work]) await fs.mkdir(d, { recursive: true });
    await fs.mkdir(path.join(lower, 'etc'));
    await fs.writeFile(path.join(lower, 'etc', 'removed.txt'), 'in the lower dir\n');
    const overlay: Mount[] = [{ type: 'overlay', source: 'overlay', options: [`workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower}`] }];
    const applied = await differ.apply(descriptorOf(blobs[1]), overlay);
    assert.equal(applied.digest, blobs[1].diffId);
    // The kernel, not strata, made the whiteout: the layer went through a mount.
    const whiteout = await fs.lstat(path.join(upper, 'etc', 'removed.txt'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0);
    assert.equal(await fs.readFile(path.join(upper, 'data', 'three.txt'), 'utf8'), 'three\n');

    // Right stacks two layers over nothing: no single directory holds the change, so it is mounted and walked.
    const right = await snapshots.view('across', 'layer-2');
    assert.equal(right[0].type, 'overlay');
    const desc = await differ.diff([], right, { media_type: LAYER_TAR });
    await snapshots.remove('across');
    const file = path.join(dir, 'across.tar');
    await ctrToFile(containerd, ['content', 'get', desc.digest], file);
    assert.deepEqual((await layerEntries(file)).map((e) => `${e.name} ${e.type}`), [
      'data/ directory', 'data/a-link file', 'data/a.txt link', 'data/old/ directory', 'data/old/y.txt file',
      'data/owned file', 'data/sym symlink', 'data/three.txt file', 'etc/ directory',
    ]);
  });

  test('media types strata does not handle answer Unimplemented, so containerd tries its next differ', async () => {
    const mounts = await snapshots.prepare('foreign');
    const encrypted = { ...descriptorOf(blobs[0]), media_type: 'application/vnd.oci.image.layer.v1.tar+gzip+encrypted' };
    assert.equal((await failure(differ.apply(encrypted, mounts))).code, 'UNIMPLEMENTED');
    assert.equal((await failure(differ.diff([], mounts, { media_type: 'application/x-tar+lz4' }))).code, 'UNIMPLEMENTED');
    await snapshots.remove('foreign');
  });

  test('content whose digest or size does not match its descriptor fails with FailedPrecondition', async () => {
    const blob = blobs[2];
    const stored = path.join(dir, 'c', 'root', 'io.containerd.content.v1.content', 'blobs', 'sha256', blob.digest.slice('sha256:'.length));
    const original = await fs.readFile(stored);
    const at = original.indexOf('aaaaaaaa');
    assert.ok(at > 0);
    // Same length, still a valid tar: only the digest can tell.
    await fs.writeFile(stored, Buffer.concat([original.subarray(0, at), Buffer.from('bbbbbbbb'), original.subarray(at + 8)]));

    const tampered = await failure(differ.apply(descriptorOf(blob), await snapshots.prepare('tampered')));
    assert.equal(tampered.code, 'FAILED_PRECONDITION');
    assert.match(tampered.details, new RegExp(`digest sha256:[0-9a-f]{64}, but its descriptor says ${blob.digest}`));

    const sized = await failure(differ.apply({ ...descriptorOf(blobs[1]), size: blobs[1].size + 1 }, await snapshots.prepare('wrong-size')));
    assert.equal(sized.code, 'FAILED_PRECONDITION');
    assert.match(sized.details, /bytes, but its descriptor says/);
  });

  test('the content namespace comes from containerd-namespace when the caller sends it', async () => {
    const mounts = await snapshots.prepare('other-namespace');
    const missing = await failure(differ.apply(descriptorOf(blobs[0]), mounts, { 'containerd-namespace': 'elsewhere' }));
    assert.equal(missing.code, 'NOT_FOUND');
    const applied = await differ.apply(descriptorOf(blobs[0]), mounts, { 'containerd-namespace': containerd.namespace });
    assert.equal(applied.digest, blobs[0].diffId);
  });
});
