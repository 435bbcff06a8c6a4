import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { link, symlink } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { backendIn, fsDir, layer, ref } from './fixture';

describe('overlay backend usage', () => {
  it('matches du: bytes on disk and inodes, hard links counted once', async (t) => {
    const { root, backend } = await backendIn(t);
    await layer(backend, root, '1', [], { 'a/big': 'x'.repeat(100_000), 'a/b/small': 'y', empty: '' });
    const upper = fsDir(root, '1');
    await link(path.join(upper, 'a/big'), path.join(upper, 'hardlink'));
    await symlink('a/big', path.join(upper, 'symlink'));
    const usage = await backend.usage(ref('1', 'active'));
    // du counts hard-linked files once too: an independent measure.
    const du = (...args: string[]) => Number(execFileSync('du', ['-s', ...args, upper], { encoding: 'utf8' }).split('\t')[0]);
    // root, a, a/b, big (twice linked), small, empty, symlink
    assert.equal(usage.inodes, 7);
    assert.equal(usage.inodes, du('--inodes'));
    assert.equal(usage.size, du('--block-size=1'));
    assert.ok(usage.size >= 100_000);
    assert.deepEqual((await backend.commit(ref('1', 'active'))).usage, usage);
  });
});
