/**
 * `strata diff`, `strata apply` and `strata changes` against a running
 * `strata serve`: the layer written from one snapshot, applied to a sibling,
 * gives the same tree.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { withMounts } from '../../src/mount';
import { messageLines, runCli, startServe, type RunningServe } from '../cli/cli-process';
import { layerEntries } from '../e2e/support/layer-entries';
import { treeListing } from './tree-listing';

describe('strata diff, apply and changes', () => {
  let dir: string;
  let root: string;
  let socket: string;
  let server: RunningServe | undefined;
  let client: SnapshotsClient;

  const strata = (...args: string[]) => runCli(['--address', socket, ...args]);

  before(async () => {
    dir = await fs.mkdtemp('/tmp/sdc-');
    root = path.join(dir, 'root');
    socket = path.join(dir, 's.sock');
    server = await startServe(['--root', root, '--address', socket, '--log-level', 'warn'], socket);
    client = new SnapshotsClient(socket);
    // base: a committed layer; work: an active snapshot over it with every kind of change.
    await withMounts(await client.prepare('base-active'), async (fsRoot) => {
      await fs.mkdir(path.join(fsRoot, 'data'));
      await fs.writeFile(path.join(fsRoot, 'data', 'keep.txt'), 'keep\n');
      await fs.writeFile(path.join(fsRoot, 'data', 'edit.txt'), 'before\n');
      await fs.writeFile(path.join(fsRoot, 'data', 'gone.txt'), 'deleted later\n');
    });
    await client.commit('base', 'base-active');
    await withMounts(await client.prepare('work', 'base'), async (fsRoot) => {
      await fs.writeFile(path.join(fsRoot, 'data', 'edit.txt'), 'after, longer\n');
      await fs.rm(path.join(fsRoot, 'data', 'gone.txt'));
      await fs.writeFile(path.join(fsRoot, 'new.txt'), 'new\n');
    });
  });

  after(async () => {
    client?.close();
    await server?.stop('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('changes lists what an active snapshot added, changed and deleted', async () => {
    const result = await strata('changes', 'work');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trimEnd().split('\n'), ['C /data', 'C /data/edit.txt', 'D /data/gone.txt', 'A /new.txt']);
    const json = JSON.parse((await strata('changes', 'base', '--json')).stdout) as Array<{ kind: string; path: string }>;
    assert.deepEqual(json.map((c) => `${c.kind} ${c.path}`), ['A /data', 'A /data/edit.txt', 'A /data/gone.txt', 'A /data/keep.txt']);
  });

  test('diff writes a gzip layer, and apply of it to a sibling gives the same tree', async () => {
    const layer = path.join(dir, 'work.tar.gz');
    const result = await strata('diff', 'work', '-o', layer, '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(messageLines(result.stderr), [], 'no progress bar when stderr is not a terminal');
    const written = JSON.parse(result.stdout) as { digest: string; size: number };
    assert.equal(written.size, (await fs.stat(layer)).size);
    assert.deepEqual([...(await fs.readFile(layer)).subarray(0, 2)], [0x1f, 0x8b]);
    assert.deepEqual((await layerEntries(layer)).map((e) => e.name), ['data/', 'data/edit.txt', 'data/.wh.gone.txt', 'new.txt']);

    await client.prepare('copy', 'base');
    const applied = await strata('apply', '--root', root, 'copy', layer, '--json');
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal((JSON.parse(applied.stdout) as { entries: number }).entries, 4);
    const [original, copy] = [await withMounts(await client.mounts('work'), treeListing), await withMounts(await client.mounts('copy'), treeListing)];
    assert.deepEqual(copy, original);
  });

  test('diff against an explicit parent writes a plain tar when the file does not end in .gz', async () => {
    await client.commit('work-done', 'work');
    const layer = path.join(dir, 'full.tar');
    const result = await strata('diff', 'work-done', 'base', '-o', layer);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^sha256:[0-9a-f]{64} [0-9.]+ [KM]?i?B ${layer}\\n$`));
    assert.deepEqual((await layerEntries(layer)).map((e) => e.name), ['data/', 'data/edit.txt', 'data/.wh.gone.txt', 'new.txt']);
  });

  test('apply to a committed snapshot or from a missing file fails with one clear line', async () => {
    const committed = await strata('apply', 'base', path.join(dir, 'work.tar.gz'));
    assert.equal(committed.code, 1);
    assert.match(messageLines(committed.stderr).join('\n'), /^strata: .*committed/);
    const missing = await strata('apply', 'copy', path.join(dir, 'nope.tar'));
    assert.equal(missing.code, 1);
    assert.match(messageLines(missing.stderr).join('\n'), /^strata: .*nope\.tar/);
  });
});
