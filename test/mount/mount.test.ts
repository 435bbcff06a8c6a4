import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { access, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ToolError } from '../../src/exec/run-tool';
import { isMountPoint, mountAll, topMountAt, unmount, withMounts } from '../../src/mount';
import { isSnapshotError } from '../../src/snapshots/errors';
import type { Mount } from '../../src/snapshots/types';
import { tempRoot } from './temp-root';

async function dirIn(root: string, name: string, files: Record<string, string> = {}): Promise<string> {
  const dir = path.join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(dir, file), content);
  return dir;
}

const bind = (source: string, ...options: string[]): Mount => ({ type: 'bind', source, options });

const tmpEntries = async (prefix: string) => (await readdir(tmpdir())).filter((name) => name.startsWith(prefix));

describe('mountAll and unmount', () => {
  it('bind-mounts read-write and unmounts', async (t) => {
    const root = await tempRoot(t);
    const source = await dirIn(root, 'src', { a: 'A' });
    const target = await dirIn(root, 'mnt');
    await mountAll([bind(source, 'rw', 'rbind')], target);
    assert.equal(await isMountPoint(target), true);
    assert.equal(await readFile(path.join(target, 'a'), 'utf8'), 'A');
    await writeFile(path.join(target, 'b'), 'B');
    await unmount(target);
    assert.equal(await isMountPoint(target), false);
    assert.equal(await readFile(path.join(source, 'b'), 'utf8'), 'B');
  });

  it('makes a read-only bind really read-only', async (t) => {
    const root = await tempRoot(t);
    const source = await dirIn(root, 'src', { a: 'A' });
    const target = await dirIn(root, 'mnt');
    await mountAll([bind(source, 'ro', 'rbind')], target);
    assert.ok((await topMountAt(target))?.mountOptions.includes('ro'));
    await assert.rejects(writeFile(path.join(target, 'x'), 'x'), (err: NodeJS.ErrnoException) => err.code === 'EROFS');
    assert.equal(await readFile(path.join(target, 'a'), 'utf8'), 'A');
    await unmount(target);
  });

  it('mounts an overlay with upper and work dirs', async (t) => {
    const root = await tempRoot(t);
    const lower = await dirIn(root, 'lower', { a: 'lower' });
    const upper = await dirIn(root, 'upper');
    const work = await dirIn(root, 'work');
    const target = await dirIn(root, 'mnt');
    await mountAll([{ type: 'overlay', source: 'overlay', options: [`workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower}`] }], target);
    await writeFile(path.join(target, 'a'), 'changed');
    await unmount(target);
    assert.equal(await readFile(path.join(upper, 'a'), 'utf8'), 'changed');
    assert.equal(await readFile(path.join(lower, 'a'), 'utf8'), 'lower');
  });

  it('mounts 500 lower dirs whose relative paths still exceed a page, through short links', async (t) => {
    const root = await tempRoot(t);
    const lowers: string[] = [];
    for (let i = 0; i < 500; i++) {
      lowers.push(await dirIn(root, `a-rather-long-layer-directory-name-${i}`, { [`f${i}`]: String(i), top: String(i) }));
    }
    const target = await dirIn(root, 'mnt');
    const linksBefore = await tmpEntries('strata-lower-');
    // Nearest first: the last dir created is on top.
    await mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${[...lowers].reverse().join(':')}`] }], target);
    try {
      assert.equal((await readdir(target)).length, 501);
      assert.equal(await readFile(path.join(target, 'top'), 'utf8'), '499');
      assert.equal(await readFile(path.join(target, 'f0'), 'utf8'), '0');
      assert.deepEqual(await tmpEntries('strata-lower-'), linksBefore, 'link dir removed after mounting');
    } finally {
      await unmount(target);
    }
  });

  it('stacks several mounts on one target and unmounts them all', async (t) => {
    const root = await tempRoot(t);
    const first = await dirIn(root, 'one', { one: '1' });
    const second = await dirIn(root, 'two', { two: '2' });
    const target = await dirIn(root, 'mnt');
    await mountAll([bind(first, 'rbind'), bind(second, 'rbind')], target);
    assert.deepEqual(await readdir(target), ['two']);
    await unmount(target);
    assert.equal(await isMountPoint(target), false);
    assert.deepEqual(await readdir(target), []);
  });

  it('unmounts what it mounted when a later mount fails', async (t) => {
    const root = await tempRoot(t);
    const source = await dirIn(root, 'src');
    const target = await dirIn(root, 'mnt');
    await assert.rejects(
      mountAll([bind(source, 'rbind'), bind(path.join(root, 'missing'), 'rbind')], target),
      (err) => err instanceof ToolError && err.stderr.length > 0,
    );
    assert.equal(await isMountPoint(target), false);
  });

  it('refuses bad input with InvalidArgument', async () => {
    const invalid = (err: unknown) => isSnapshotError(err, 'InvalidArgument');
    await assert.rejects(mountAll([bind('/tmp', 'rbind')], 'relative/target'), invalid);
    await assert.rejects(mountAll([], '/tmp/x'), invalid);
    await assert.rejects(mountAll([{ type: 'bind', source: '/tmp', options: ['ro,remount'] }], '/tmp/x'), invalid);
    await assert.rejects(unmount('relative'), invalid);
  });

  it('leaves a target with nothing mounted, or no target at all, alone', async (t) => {
    const root = await tempRoot(t);
    const target = await dirIn(root, 'mnt');
    await unmount(target);
    await unmount(path.join(root, 'missing'));
    assert.equal((await stat(target)).isDirectory(), true);
  });

  it('retries a busy mount until it is free', async (t) => {
    const root = await tempRoot(t);
    const target = await dirIn(root, 'mnt');
    await mountAll([bind(await dirIn(root, 'src'), 'rbind')], target);
    const user = spawn('sleep', ['0.3'], { cwd: target });
    const exited = new Promise((resolve) => user.on('exit', resolve));
    await new Promise((resolve) => user.on('spawn', resolve));
    await unmount(target, { busyRetries: 100, retryDelayMs: 20 });
    assert.equal(await isMountPoint(target), false);
    await exited;
  });

  it('detaches lazily a mount that stays busy', async (t) => {
    const root = await tempRoot(t);
    const target = await dirIn(root, 'mnt');
    await mountAll([bind(await dirIn(root, 'src', { held: 'h' }), 'rbind')], target);
    const user = spawn('sleep', ['30'], { cwd: target });
    t.after(() => user.kill());
    await new Promise((resolve) => user.on('spawn', resolve));
    await unmount(target, { busyRetries: 2, retryDelayMs: 10 });
    assert.equal(await isMountPoint(target), false);
    assert.deepEqual(await readdir(target), []);
  });
});

describe('withMounts', () => {
  it('mounts on a temporary dir for the callback and returns its result', async (t) => {
    const root = await tempRoot(t);
    const source = await dirIn(root, 'src', { a: 'A' });
    let seen = '';
    const result = await withMounts([bind(source, 'ro', 'rbind')], async (dir) => {
      seen = dir;
      return readFile(path.join(dir, 'a'), 'utf8');
    });
    assert.equal(result, 'A');
    await assert.rejects(access(seen), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });

  it('unmounts and removes the dir when the callback throws', async (t) => {
    const root = await tempRoot(t);
    const source = await dirIn(root, 'src');
    let seen = '';
    await assert.rejects(
      withMounts([bind(source, 'rbind')], async (dir) => {
        seen = dir;
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(await isMountPoint(seen), false);
    await assert.rejects(access(seen), (err: NodeJS.ErrnoException) => err.code === 'ENOENT');
  });
});
