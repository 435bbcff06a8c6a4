/**
 * kill -9 of the server in the middle of operations, many times over: after
 * each restart every acknowledged commit is still there with its content, and
 * after Cleanup the storage directories are exactly those the metadata names.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { withMounts } from '../../src/mount';
import { killWhileWorking } from '../support/crash-rounds';
import { referencedObjects, storedObjects } from '../support/stored-objects';
import { spawnStrata } from '../support/strata-process';
import { writableDir } from '../support/writable-dir';

const ROUNDS = Number(process.env.STRATA_CRASH_ROUNDS ?? 25);
const WORKERS = 8;

describe('crash safety (overlay, kill -9)', () => {
  let root: string;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-crash-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it(`keeps every acknowledged commit across ${ROUNDS} crashes`, async () => {
    const address = path.join(root, 's.sock');
    /** Committed snapshot name -> marker content written before Commit was acknowledged. */
    const committed = new Map<string, string>();
    let counter = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const server = await spawnStrata(['--root', root, '--log-level', 'error'], address);
      const client = new SnapshotsClient(address);
      try {
        await verifyCommitted(client, committed, round);
        const uncertain = new Set<string>();
        await killWhileWorking(server, 20 + ((round * 37) % 200), WORKERS, async () => {
          const id = ++counter;
          const names = [...committed.keys()];
          const parent = names.length > 0 && id % 3 !== 0 ? names[id % names.length] : '';
          const key = `default/${id}/extract-${id} sha256:${id}`;
          const name = `default/${id}/layer-${id}`;
          const marker = `marker ${id}\n`;
          const mounts = await client.prepare(key, parent);
          await fs.writeFile(path.join(writableDir(mounts), 'marker'), marker);
          uncertain.add(name);
          await client.commit(name, key);
          // Every fifth layer is removed at once, before any worker can use it as a parent.
          if (id % 5 === 0) await client.remove(name);
          else committed.set(name, marker);
          uncertain.delete(name);
        });
        // A commit or remove cut short by the crash may or may not have happened.
        for (const name of uncertain) committed.delete(name);
      } finally {
        client.close();
        if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      }
    }

    const server = await spawnStrata(['--root', root, '--log-level', 'error'], address);
    const client = new SnapshotsClient(address);
    try {
      await verifyCommitted(client, committed, ROUNDS);
      await client.cleanup();
      const listed = [];
      for await (const info of client.list()) listed.push(info);
      const dirs = await fs.readdir(path.join(root, 'snapshots'));
      assert.equal(dirs.length, listed.length, `directories ${dirs.length} vs snapshots ${listed.length} after Cleanup`);
      // Object-store mode: what the stubs of the snapshots left point to is exactly what the store holds.
      assert.deepEqual(storedObjects(root).sort(), (await referencedObjects(root)).sort(), 'objects after Cleanup are the referenced ones');
      assert.ok(committed.size > 10, `the workload committed too little to prove anything (${committed.size})`);
    } finally {
      client.close();
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
    }
  });
});

async function verifyCommitted(client: SnapshotsClient, committed: Map<string, string>, round: number): Promise<void> {
  for (const [name, marker] of committed) {
    const info = await client.stat(name).catch((err) => assert.fail(`round ${round}: committed ${name} lost: ${err}`));
    assert.equal(info.kind, 'committed');
    const viewKey = `verify/${round}/${name}`;
    const mounts = await client.view(viewKey, name);
    // Read as a container would, through the kernel (in object-store mode the layer holds a stub).
    const content = mounts[0].type === 'bind'
      ? await fs.readFile(path.join(mounts[0].source, 'marker'), 'utf8')
      : await withMounts(mounts, (dir) => fs.readFile(path.join(dir, 'marker'), 'utf8'));
    assert.equal(content, marker, `content of ${name}`);
    await client.remove(viewKey);
  }
}
