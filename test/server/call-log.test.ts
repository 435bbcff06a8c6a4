/**
 * What a `strata serve` process at the default log level (info) writes about
 * calls: failures with service, method, snapshot key and code, at a level
 * that says who is at fault; each Remove and Cleanup with what it reclaimed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { spawnStrata, type StrataProcess } from '../support/strata-process';
import { codeOf } from '../support/strata-server';

interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

const WARN = 40;
const LOG_WAIT_MS = 5000;
const ERROR = 50;

describe('call and reclaim logs at the default level', () => {
  let dir: string;
  let strata: StrataProcess;
  let client: SnapshotsClient;
  before(async () => {
    dir = await mkdtemp('/tmp/strata-log-');
    const address = path.join(dir, 's.sock');
    strata = await spawnStrata(['--root', path.join(dir, 'root'), '--backend', 'overlay'], address);
    client = new SnapshotsClient(address);
  });
  after(async () => {
    client?.close();
    strata?.child.kill('SIGTERM');
    await strata?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  const records = () =>
    strata
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogRecord);
  const failures = () => records().filter((r) => r.msg === 'call failed');
  /**
   * The records once `ready` holds of them: the server logs before it
   * replies, but its stderr reaches this process through a pipe that may
   * deliver after the reply. Gives up after LOG_WAIT_MS and returns them as they are.
   */
  async function recordsOnce(ready: (all: LogRecord[]) => boolean): Promise<LogRecord[]> {
    const deadline = Date.now() + LOG_WAIT_MS;
    while (!ready(records()) && Date.now() < deadline) await delay(20);
    return records();
  }

  it('logs a rejected request at warn with its key and code, and keeps routine NotFound out', async () => {
    await client.prepare('log/active');
    assert.equal(await codeOf(client.stat('log/missing')), 'NotFound');
    assert.equal(await codeOf(client.prepare('log/child', 'log/active')), 'InvalidArgument');
    await recordsOnce((all) => all.some((r) => r.key === 'log/child'));
    assert.deepEqual(
      failures().map(({ level, service, method, key, code }) => ({ level, service, method, key, code })),
      [{ level: WARN, service: 'snapshots', method: 'Prepare', key: 'log/child', code: 'INVALID_ARGUMENT' }],
    );
  });

  it('logs a server-side failure at error with its key', async () => {
    // Storage broken under the server: the failure is the server's, not the caller's.
    const snapshots = path.join(dir, 'root', 'snapshots');
    const before = new Set(await readdir(snapshots));
    await client.prepare('log/doomed');
    const id = (await readdir(snapshots)).find((name) => !before.has(name))!;
    await rm(path.join(snapshots, id), { recursive: true });
    await writeFile(path.join(snapshots, id), 'not a directory');
    assert.equal(await codeOf(client.commit('log/doomed-layer', 'log/doomed')), 'Unknown');
    await recordsOnce((all) => all.some((r) => r.msg === 'call failed' && r.key === 'log/doomed'));
    const failure = failures().find((r) => r.key === 'log/doomed');
    assert.ok(failure, JSON.stringify(failures()));
    assert.deepEqual(
      { level: failure.level, method: failure.method, name: failure.name, code: failure.code },
      { level: ERROR, method: 'Commit', name: 'log/doomed-layer', code: 'UNKNOWN' },
    );
  });

  it('logs each Remove and Cleanup at info with what it reclaimed', async () => {
    await client.prepare('log/gone');
    await client.remove('log/gone');
    await client.cleanup();
    await recordsOnce((all) => all.some((r) => r.msg === 'cleanup reclaimed storage'));
    const removed = records().find((r) => r.msg === 'snapshot removed' && r.key === 'log/gone');
    assert.ok(removed, strata.stderr());
    assert.equal(removed.level, 30);
    assert.equal(removed.storage, 'deferred');
    const cleanup = records().find((r) => r.msg === 'cleanup reclaimed storage');
    assert.ok(cleanup, strata.stderr());
    assert.equal(cleanup.level, 30);
    // log/gone's directory, and log/doomed's missing one is no debris: exactly one.
    assert.equal(cleanup.reclaimed, 1);
    assert.deepEqual(cleanup.ids, [removed.id]);
  });
});
