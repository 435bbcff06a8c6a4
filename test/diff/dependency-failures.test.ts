/**
 * The Diff service when what it depends on fails: containerd gone, content
 * missing, a blob cut off mid-stream, a write stream dropped, a lease
 * service that refuses. Each call must end with the status containerd's
 * own differ would give, and the server must go on serving.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import type { SnapshotsClient } from '../../src/client/snapshots-client';
import { LEASE_HEADER } from '../../src/content';
import type { Mount } from '../../src/snapshots/types';
import { startFakeContainerd, type FakeContainerd } from '../support/fake-containerd';
import { type DiffClient, failure } from './diff-client';
import { layerBlobs } from './layer-blobs';
import { spawnStrataDiffer, type StrataDiffer } from './strata-differ';

describe('the Diff service when containerd or its content fails', () => {
  let dir: string;
  let fake: FakeContainerd;
  let server: StrataDiffer;
  let snapshots: SnapshotsClient;
  let differ: DiffClient;
  let layer: { media_type: string; digest: string; size: number };
  let target: Mount[];

  before(async () => {
    dir = await fs.mkdtemp('/tmp/sdf-');
    fake = await startFakeContainerd(path.join(dir, 'containerd.sock'));
    const [blob] = await layerBlobs([{ entries: [{ type: 'file', path: 'big', content: 'x'.repeat(256 * 1024) }] }], path.join(dir, 'blobs'));
    layer = { media_type: blob.mediaType, digest: fake.add(await fs.readFile(blob.file)), size: blob.size };
    server = await spawnStrataDiffer(dir, fake.address);
    ({ snapshots, differ } = server);
    target = await snapshots.prepare('target');
  });

  after(async () => {
    await server?.stop();
    await fake?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** The server is alive and its snapshots answer; the failed call left nothing locked. */
  async function assertServing(): Promise<void> {
    assert.equal(server.strata.child.exitCode, null, `strata exited: ${server.strata.stderr()}`);
    assert.equal((await snapshots.stat('target')).name, 'target');
  }

  test('a working content store applies the layer (the baseline for the failures below)', async () => {
    const applied = await differ.apply(layer, target);
    assert.match(applied.digest, /^sha256:/);
  });

  test('Apply of a blob the content store does not have is NotFound', async () => {
    const missing = { ...layer, digest: `sha256:${'0'.repeat(64)}` };
    const { code, details } = await failure(differ.apply(missing, target));
    assert.equal(code, 'NOT_FOUND', details);
    await assertServing();
  });

  test('Apply refused before the blob is read (read-only target, unknown digest algorithm) does not wait for containerd', async () => {
    const missing = { ...layer, digest: `sha256:${'0'.repeat(64)}` };
    const view = await snapshots.view('read-only', undefined);
    const refused = await failure(differ.apply(missing, view));
    assert.equal(refused.code, 'INVALID_ARGUMENT', refused.details);
    const sha1 = await failure(differ.apply({ ...layer, digest: `sha1:${'0'.repeat(40)}` }, target));
    assert.equal(sha1.code, 'INVALID_ARGUMENT', sha1.details);
    // containerd's NotFound for a read nobody consumed must not arrive later as an unhandled error.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await assertServing();
    await snapshots.remove('read-only');
  });

  test('Apply of a blob cut off mid-stream is Unavailable', async () => {
    fake.behaviour = { cutReadAfter: Math.floor(layer.size / 2) };
    const { code, details } = await failure(differ.apply(layer, target));
    assert.equal(code, 'UNAVAILABLE', details);
    assert.match(details, /mid-blob/);
    await assertServing();
  });

  test('Diff whose content write is dropped is Unavailable', async () => {
    fake.behaviour = { cutWrite: true };
    const { code, details } = await failure(differ.diff([], target));
    assert.equal(code, 'UNAVAILABLE', details);
    await assertServing();
  });

  test('Diff whose lease cannot be created fails with the lease service\'s code', async () => {
    fake.behaviour = { leaseError: grpc.status.FAILED_PRECONDITION };
    const { code, details } = await failure(differ.diff([], target));
    assert.equal(code, 'FAILED_PRECONDITION', details);
    assert.match(details, /lease service refuses/);
    await assertServing();
  });

  test('with containerd gone, Apply and Diff are Unavailable, naming its socket, and the server stays up', async () => {
    fake.behaviour = {};
    await fake.close();
    for (let round = 0; round < 3; round++) {
      const calls = [() => differ.apply(layer, target), () => differ.diff([], target), () => differ.diff([], target, {}, { [LEASE_HEADER]: 'callers-lease' })];
      for (const call of calls) {
        const { code, details } = await failure(call());
        assert.equal(code, 'UNAVAILABLE', details);
        assert.ok(details.includes(fake.address), details);
      }
      await assertServing();
    }
  });
});
