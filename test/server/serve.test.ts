import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { spawnStrata } from '../support/strata-process';

describe('strata serve', () => {
  let root: string;
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'strata-serve-'));
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('listens on a 0660 socket, starts in well under a second, and removes the socket on SIGTERM', async () => {
    const address = path.join(root, 'run', 'a.sock');
    const started = Date.now();
    const server = await spawnStrata(['--root', path.join(root, 'a')], address);
    try {
      const startup = Date.now() - started;
      assert.ok(startup < 1500, `startup took ${startup} ms`);
      const stat = await fs.stat(address);
      assert.ok(stat.isSocket());
      assert.equal(stat.mode & 0o777, 0o660);
      assert.equal(stat.uid, 0);
    } finally {
      server.child.kill('SIGTERM');
    }
    assert.equal(await server.exited, 0);
    await assert.rejects(fs.stat(address), { code: 'ENOENT' });
  });

  it('refuses a second server on the same root with a clear error, and serves on after a crash', async () => {
    const serverRoot = path.join(root, 'b');
    const first = await spawnStrata(['--root', serverRoot], path.join(root, 'b1.sock'));
    try {
      await assert.rejects(spawnStrata(['--root', serverRoot], path.join(root, 'b2.sock')), /already serving root/);
    } finally {
      first.child.kill('SIGKILL');
      await first.exited;
    }
    // kill -9 left the socket file behind; the next server replaces it.
    const again = await spawnStrata(['--root', serverRoot], path.join(root, 'b1.sock'));
    again.child.kill('SIGTERM');
    assert.equal(await again.exited, 0);
  });

  it('finishes in-flight calls before exiting on SIGTERM', async () => {
    const address = path.join(root, 'c.sock');
    const server = await spawnStrata(['--root', path.join(root, 'c')], address);
    const client = new SnapshotsClient(address);
    try {
      const calls = Array.from({ length: 50 }, (_, i) => client.prepare(`k${i}`));
      await new Promise((resolve) => setImmediate(resolve));
      server.child.kill('SIGTERM');
      const results = await Promise.allSettled(calls);
      assert.equal(await server.exited, 0);
      // Calls the server accepted completed; none was cut off half-way.
      const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      for (const f of failed) assert.match(String(f.reason), /Unavailable|Cancelled/);
    } finally {
      client.close();
    }
    const reopened = await spawnStrata(['--root', path.join(root, 'c')], address);
    const reopenedClient = new SnapshotsClient(address);
    try {
      for await (const info of reopenedClient.list()) assert.equal(info.kind, 'active');
    } finally {
      reopenedClient.close();
      reopened.child.kill('SIGTERM');
      await reopened.exited;
    }
  });
});
