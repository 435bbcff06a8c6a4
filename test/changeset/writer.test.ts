import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer } from '../../src/changeset/applier';
import type { Change } from '../../src/changeset/change';
import { compareTrees } from '../../src/changeset/compare';
import { statInfo } from '../../src/changeset/file-info';
import { tempDir } from './fixtures';
import { layerBytes } from './layer-io';

/** Distinct bytes per position, so a misplaced piece shows. */
function content(length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 7 + (i >> 8)) & 0xff;
  return out;
}

test('file content is exact around the read-ahead bound (64 KiB) and with many files in flight', async (t) => {
  const dir = tempDir(t, 'wr');
  const [empty, src, dst] = ['empty', 'src', 'dst'].map((n) => path.join(dir, n));
  [empty, src, dst].forEach((d) => fs.mkdirSync(d));
  const sizes = [1, 65_535, 65_536, 65_537, 200_000, ...Array.from({ length: 40 }, (_, i) => 100 + i)];
  sizes.forEach((size, i) => fs.writeFileSync(path.join(src, `f${String(i).padStart(2, '0')}`), content(size)));

  await applyLayer(Readable.from([await layerBytes(compareTrees(empty, src))]), dst, { mode: 'directory' });
  sizes.forEach((size, i) => {
    const name = `f${String(i).padStart(2, '0')}`;
    assert.ok(fs.readFileSync(path.join(dst, name)).equals(content(size)), `${name} (${size} bytes)`);
  });
});

test('a file that shrank or grew after it was listed fails the layer', async (t) => {
  const dir = tempDir(t, 'wr');
  for (const [before, after] of [[1000, 10], [10, 1000], [100_000, 70_000], [100_000, 300_000], [65_535, 65_536]]) {
    const file = path.join(dir, `f-${before}-${after}`);
    fs.writeFileSync(file, content(before));
    const change: Change = { kind: 'add', path: path.basename(file), info: statInfo(file) };
    fs.writeFileSync(file, content(after));
    await assert.rejects(layerBytes([change]), new RegExp(`changed size while the layer was being written \\(${before} -> `));
  }
});
