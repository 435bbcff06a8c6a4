/**
 * The content-store and leases clients against a real containerd 1.7:
 * streamed reads (ranges too), writes with labels, content that already
 * exists, a ref held by another writer, typed errors, and a lease keeping
 * written content through garbage collection.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { ContentClient, LeasesClient, EXPIRE_LABEL, type CallContext } from '../../src/content';
import { isSnapshotError } from '../../src/snapshots/errors';
import { ctrToFile } from '../e2e/support/ctr-to-file';
import { startContainerd, type Containerd } from '../support/containerd';

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

async function collect(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A source that yields `data` in pieces of `piece` bytes, to exercise chunking. */
function pieces(data: Buffer, piece: number): Readable {
  return Readable.from((function* () {
    for (let at = 0; at < data.length; at += piece) yield data.subarray(at, at + piece);
  })());
}

describe('containerd content and leases clients', () => {
  let containerd: Containerd;
  let content: ContentClient;
  let leases: LeasesClient;
  let ctx: CallContext;
  let dir: string;

  before(async () => {
    dir = await mkdtemp('/tmp/sc-');
    containerd = await startContainerd({ dir: path.join(dir, 'c') });
    content = new ContentClient(containerd.address);
    leases = new LeasesClient(containerd.address);
    ctx = { namespace: containerd.namespace };
  });

  after(async () => {
    content?.close();
    leases?.close();
    await containerd?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function ingest(data: Buffer): Promise<string> {
    const digest = sha256(data);
    await containerd.ctrOk(['content', 'ingest', '--expected-digest', digest, '--expected-size', String(data.length), `ref-${randomBytes(4).toString('hex')}`], { input: data });
    return digest;
  }

  test('reads a blob as a stream, whole and by range, and reports its info', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const digest = await ingest(data);
    assert.deepEqual(await collect(content.read(ctx, digest)), data);
    assert.deepEqual(await collect(content.read(ctx, digest, { offset: 1000, size: 5000 })), data.subarray(1000, 6000));
    const info = await content.info(ctx, digest);
    assert.equal(info.digest, digest);
    assert.equal(info.size, data.length);
  });

  test('a missing blob is NotFound, for Info and for Read', async () => {
    const missing = sha256(Buffer.from('never written'));
    await assert.rejects(content.info(ctx, missing), (err) => isSnapshotError(err, 'NotFound'));
    await assert.rejects(collect(content.read(ctx, missing)), (err) => isSnapshotError(err, 'NotFound') && /containerd content/.test((err as Error).message));
  });

  test('writes a stream in chunks, commits it with labels, and ctr reads the same bytes back', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 333);
    const lease = await leases.create(ctx.namespace, { expiresInMs: 60_000 });
    const written = await content.write({ ...ctx, lease }, pieces(data, 7000), { ref: 'strata-test-write', labels: { 'test.strata/kind': 'chunks' } });
    assert.deepEqual(written, { digest: sha256(data), size: data.length, existed: false });
    const file = path.join(dir, 'written');
    await ctrToFile(containerd, ['content', 'get', written.digest], file);
    assert.deepEqual(await readFile(file), data);
    const info = await content.info(ctx, written.digest);
    assert.equal(info.size, data.length);
    assert.equal(info.labels['test.strata/kind'], 'chunks');
    await content.updateLabels(ctx, written.digest, { 'test.strata/more': 'yes' });
    const updated = await content.info(ctx, written.digest);
    assert.deepEqual([updated.labels['test.strata/kind'], updated.labels['test.strata/more']], ['chunks', 'yes']);
  });

  test('content that exists is not written again, whether its digest is known before or after', async () => {
    const data = randomBytes(4096);
    const digest = await ingest(data);
    let read = false;
    const untouched = Readable.from((function* () {
      read = true;
      yield data;
    })());
    assert.deepEqual(await content.write(ctx, untouched, { ref: 'strata-known', expected: { digest, size: data.length } }), { digest, size: data.length, existed: true });
    assert.equal(read, false, 'the source must not be read when containerd has the content');
    assert.deepEqual(await content.write(ctx, pieces(data, 1000), { ref: 'strata-unknown' }), { digest, size: data.length, existed: true });
  });

  test('a commit whose expected digest does not match fails with FailedPrecondition', async () => {
    const data = randomBytes(1000);
    const wrong = sha256(Buffer.from('something else'));
    await assert.rejects(
      content.write(ctx, pieces(data, 100), { ref: 'strata-mismatch', expected: { digest: wrong, size: data.length } }),
      (err) => isSnapshotError(err, 'FailedPrecondition'),
    );
  });

  test('a second writer of the same ref waits for the first instead of failing', async () => {
    const first = randomBytes(512 * 1024);
    const second = randomBytes(512 * 1024);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The first writer holds the ref until the gate opens, after its first chunk.
    const slow = Readable.from((async function* () {
      yield first.subarray(0, 1024);
      await gate;
      yield first.subarray(1024);
    })());
    const one = content.write(ctx, slow, { ref: 'strata-shared-ref' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const two = content.write(ctx, pieces(second, 4096), { ref: 'strata-shared-ref' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    release();
    const [a, b] = await Promise.all([one, two]);
    assert.equal(a.digest, sha256(first));
    assert.equal(b.digest, sha256(second));
  });

  test('a lease keeps written content through garbage collection until it is deleted', async () => {
    const data = randomBytes(10_000);
    const lease = await leases.create(ctx.namespace, { expiresInMs: 3_600_000 });
    const listed = await containerd.ctrOk(['leases', 'ls']);
    assert.match(listed, new RegExp(`${lease}.*${EXPIRE_LABEL.replace(/\./g, '\\.')}=`));
    const written = await content.write({ ...ctx, lease }, pieces(data, 4096), { ref: 'strata-leased' });
    // Deleting any lease synchronously runs a collection.
    await leases.delete(ctx.namespace, await leases.create(ctx.namespace, { expiresInMs: 1000 }), true);
    assert.equal((await content.info(ctx, written.digest)).size, data.length);
    await leases.delete(ctx.namespace, lease, true);
    await assert.rejects(content.info(ctx, written.digest), (err) => isSnapshotError(err, 'NotFound'));
  });
});
