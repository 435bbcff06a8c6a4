/**
 * `strata diff`, `strata apply` and `strata changes` against a running
 * `strata serve`: the layer written from one snapshot, applied to a sibling,
 * gives the same tree.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { SnapshotsClient } from '../../src/client/snapshots-client';
import { withMounts } from '../../src/mount';
import { messageLines, runCli, runCliOnTerminal, startServe, type RunningServe } from '../cli/cli-process';
import { layerEntries } from '../e2e/support/layer-entries';
import { treeListing } from './tree-listing';

const exec = promisify(execFile);

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
    const [line] = messageLines(committed.stderr);
    assert.match(line, /^strata: snapshot "base" is committed: only active snapshots can be applied into/);
    assert.doesNotMatch(line, /mount/);
    const missing = await strata('apply', 'copy', path.join(dir, 'nope.tar'));
    assert.equal(missing.code, 1);
    assert.match(messageLines(missing.stderr).join('\n'), /^strata: .*nope\.tar/);
  });

  test('apply reads the layer from stdin for -, and diff without -o writes it to stdout, never to a terminal', async () => {
    const piped = await strata('diff', 'work-done', 'base');
    assert.equal(piped.code, 0, piped.stderr);
    const layer = piped.stdoutBytes;
    assert.match(messageLines(piped.stderr).join('\n'), /^sha256:[0-9a-f]{64} .* -$/, 'the summary goes to stderr');
    const file = path.join(dir, 'stdout.tar');
    await fs.writeFile(file, layer);
    assert.deepEqual((await layerEntries(file)).map((e) => e.name), ['data/', 'data/edit.txt', 'data/.wh.gone.txt', 'new.txt']);

    await client.prepare('from-stdin', 'base');
    const applied = await runCli(['--address', socket, 'apply', '--root', root, 'from-stdin', '-', '--json'], {}, await fs.readFile(file));
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal((JSON.parse(applied.stdout) as { entries: number }).entries, 4);
    const [copy, original] = [await withMounts(await client.mounts('from-stdin'), treeListing), await withMounts(await client.view('work-view', 'work-done'), treeListing)];
    assert.deepEqual(copy, original);

    const onTerminal = await runCliOnTerminal(['--address', socket, 'diff', 'work-done']);
    assert.equal(onTerminal.code, 1);
    assert.match(onTerminal.stdout, /^strata: refusing to write a layer to a terminal/);
  });

  test('a failed apply says the snapshot now holds part of the layer and how to start over', async () => {
    const layer = await fs.readFile(path.join(dir, 'stdout.tar'));
    // Cut inside the content of the second file: the entries before it are written.
    const cut = layer.subarray(0, layer.indexOf('after, longer') + 4);
    await client.prepare('broken', 'base');
    const result = await runCli(['--address', socket, 'apply', '--root', root, 'broken', '-'], {}, cut);
    assert.equal(result.code, 1);
    const lines = messageLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0], /^strata: invalid layer: truncated .*; snapshot "broken" now holds part of the layer .*: remove it \(strata snapshot rm broken\)/);

    // Nothing written, nothing to undo: the error says only what went wrong.
    await client.prepare('untouched', 'base');
    const garbage = await runCli(['--address', socket, 'apply', 'untouched', '-'], {}, Buffer.alloc(4096, 'x'));
    assert.equal(garbage.code, 1);
    assert.doesNotMatch(garbage.stderr, /part of the layer/);
  });

  test('on a terminal, apply counts entries as they arrive, with a percentage and ETA when the size is known', async () => {
    const src = path.join(dir, 'many');
    await fs.mkdir(src);
    for (let i = 0; i < 600; i++) await fs.writeFile(path.join(src, `f${i}`), randomBytes(8192));
    const file = path.join(dir, 'many.tar');
    await exec('tar', ['-cf', file, '-C', src, '.']);
    const layer = await fs.readFile(file);
    const total = 601;

    await client.prepare('bar-file');
    const fromFile = await runCliOnTerminal(['--address', socket, 'apply', '--root', root, 'bar-file', file]);
    assert.equal(fromFile.code, 0, fromFile.stdout);
    assert.match(fromFile.stdout, new RegExp(`100% \\| ([\\d.]+ MiB) of \\1 \\| ${total} entries \\| .* \\| ETA `));

    // From a pipe the size is unknown; half the bytes, a pause, the rest: the count moves before the end.
    const fifo = path.join(dir, 'layer.fifo');
    await exec('mkfifo', [fifo]);
    await client.prepare('bar-pipe');
    const run = runCliOnTerminal(['--address', socket, 'apply', '--root', root, 'bar-pipe', '-'], fifo);
    const writer = await fs.open(fifo, 'w');
    await writer.write(layer.subarray(0, layer.length / 2));
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await writer.write(layer.subarray(layer.length / 2));
    await writer.close();
    const fromPipe = await run;
    assert.equal(fromPipe.code, 0, fromPipe.stdout);
    assert.doesNotMatch(fromPipe.stdout, /%/);
    const counts = [...fromPipe.stdout.matchAll(/\| (\d+) entries/g)].map((m) => Number(m[1]));
    assert.equal(counts.at(-1), total);
    assert.ok(counts.some((n) => n > 0 && n < total), `entries seen: ${[...new Set(counts)].join(', ')}`);
  });
});
