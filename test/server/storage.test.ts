/** Where removed snapshots' storage goes (overlay): kept until Cleanup, or reclaimed inline with sync_remove. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startTestServer } from '../support/strata-server';

const entries = async (root: string) => (await fs.readdir(path.join(root, 'snapshots'))).sort();

describe('storage reclaim (overlay)', () => {
  it('keeps a removed snapshot on disk until Cleanup, then removes only unreferenced storage', async () => {
    const t = await startTestServer();
    try {
      await t.client.prepare('a');
      await t.client.commit('layer', 'a');
      await t.client.prepare('child', 'layer');
      await t.client.prepare('gone');
      // Files strata did not create may sit in the root; Cleanup only looks under snapshots/.
      await fs.writeFile(path.join(t.root, 'operator-notes.txt'), 'keep me');
      const before = await entries(t.root);
      assert.equal(before.length, 3);
      await t.client.remove('gone');
      assert.deepEqual(await entries(t.root), before, 'Remove is cheap: storage waits for Cleanup');
      await t.client.cleanup();
      const after = await entries(t.root);
      assert.equal(after.length, 2);
      assert.ok(after.every((id) => before.includes(id)));
      assert.equal(await fs.readFile(path.join(t.root, 'operator-notes.txt'), 'utf8'), 'keep me');
      // The survivors still work.
      const [mount] = await t.client.mounts('child');
      assert.equal(mount.type, 'overlay');
    } finally {
      await t.close();
    }
  });

  it('reclaims storage inside Remove with sync_remove', async () => {
    const t = await startTestServer({ syncRemove: true });
    try {
      await t.client.prepare('keep');
      await t.client.prepare('gone');
      assert.equal((await entries(t.root)).length, 2);
      await t.client.remove('gone');
      assert.equal((await entries(t.root)).length, 1);
    } finally {
      await t.close();
    }
  });

  it('gives the socket to the configured group', async () => {
    const t = await startTestServer({ socketGroup: 'daemon' });
    try {
      const daemonGid = Number((await fs.readFile('/etc/group', 'utf8')).split('\n').find((l) => l.startsWith('daemon:'))!.split(':')[2]);
      const stat = await fs.stat(t.address);
      assert.equal(stat.gid, daemonGid);
      assert.equal(stat.mode & 0o777, 0o660);
    } finally {
      await t.close();
    }
  });
});
