import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { walkTree } from '../../src/changeset/file-info';
import { compareNames } from '../../src/changeset/paths';
import { tempDir } from './fixtures';

/** The walk's order, the plain way: sorted names, each directory's entries right after it. */
function referenceOrder(root: string, dir = '', enter: (rel: string) => boolean = () => true): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(path.join(root, dir)).sort(compareNames)) {
    const rel = dir === '' ? name : `${dir}/${name}`;
    out.push(rel);
    if (fs.lstatSync(path.join(root, rel)).isDirectory() && enter(rel)) out.push(...referenceOrder(root, rel, enter));
  }
  return out;
}

/** Wide and deep. */
function makeTree(root: string): void {
  for (let i = 0; i < 40; i++) {
    const top = path.join(root, `d${String(i).padStart(2, '0')}`);
    for (let j = 0; j < 3; j++) {
      fs.mkdirSync(path.join(top, `s${j}`, 'deep', 'deeper'), { recursive: true });
      fs.writeFileSync(path.join(top, `s${j}`, 'deep', 'deeper', 'f'), 'x');
    }
    fs.writeFileSync(path.join(top, 'file'), 'x');
    fs.symlinkSync('file', path.join(top, 'link'));
  }
  fs.writeFileSync(path.join(root, 'Z'), 'sorts before the lowercase names');
}

test('the walk reports every entry once, in containerd order, listing each directory once', (t) => {
  const root = tempDir(t, 'walk');
  makeTree(root);
  const listedDirs: string[] = [];
  const readdir = fs.readdirSync;
  t.mock.method(fs, 'readdirSync', (dir: string) => {
    listedDirs.push(dir);
    return readdir(dir);
  });
  const walked: string[] = [];
  for (const entry of walkTree(root)) {
    assert.equal(entry.abs, path.join(root, entry.path));
    assert.equal(entry.stat.ino, fs.lstatSync(entry.abs, { bigint: true }).ino);
    walked.push(entry.path);
  }
  t.mock.restoreAll();
  assert.deepEqual(walked, referenceOrder(root));
  assert.equal(walked.length, 1 + 40 * (3 + 3 * 4));
  const dirs = [root, ...walked.filter((rel) => fs.lstatSync(path.join(root, rel)).isDirectory()).map((rel) => path.join(root, rel))];
  assert.deepEqual([...listedDirs].sort(), dirs.sort());
});

test('a directory the walk is told not to enter is reported, its contents not', (t) => {
  const root = tempDir(t, 'walk');
  makeTree(root);
  const skipped = (rel: string) => rel.endsWith('/s1') || rel === 'd07';
  const walked: string[] = [];
  for (const entry of walkTree(root, (e) => !skipped(e.path))) walked.push(entry.path);
  assert.deepEqual(walked, referenceOrder(root, '', (rel) => !skipped(rel)));
  assert.ok(walked.includes('d07') && !walked.some((p) => p.startsWith('d07/')));
  assert.ok(walked.includes('d00/s1') && !walked.includes('d00/s1/deep'));
});
