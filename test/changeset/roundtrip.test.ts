import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer } from '../../src/changeset/applier';
import { compareTrees } from '../../src/changeset/compare';
import { describeTree, makeRichTree, sh, tempDir, touchNs } from './fixtures';
import { collectChanges, layerBytes, listEntries } from './layer-io';

test('apply(diff(empty -> tree)) reproduces every entry type, mode, owner, xattr and mtime', async (t) => {
  const dir = tempDir(t);
  const [empty, src, dst] = ['empty', 'src', 'dst'].map((n) => path.join(dir, n));
  [empty, src, dst].forEach((d) => fs.mkdirSync(d));
  makeRichTree(src);

  const tar = await layerBytes(compareTrees(empty, src));
  const result = await applyLayer(Readable.from([tar]), dst, { mode: 'directory' });

  assert.deepEqual(describeTree(dst, { dirMtimes: true }), describeTree(src, { dirMtimes: true }));
  assert.equal(result.size, tar.length);
  assert.equal(result.digest, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
  const entries = listEntries(tar);
  assert.equal(result.entries, entries.length);
  // Hard links: the first name carries the data, the others link to it.
  const links = entries.filter((e) => e.type === 'link').map((e) => [e.name, e.linkname]);
  assert.deepEqual(links, [['usr/a-hardlink', 'etc/conf.d/a.conf'], ['var/a-hardlink2', 'etc/conf.d/a.conf']]);
  assert.equal(entries.find((e) => e.name === 'usr/bin/ping')?.xattrs['security.capability'], '0100000200200000000000000000000000000000');
});

test('entries come in containerd path order with directories before their contents', async (t) => {
  const dir = tempDir(t);
  const [empty, src] = ['empty', 'src'].map((n) => path.join(dir, n));
  [empty, src].forEach((d) => fs.mkdirSync(d));
  makeRichTree(src);
  const names = (listEntries(await layerBytes(compareTrees(empty, src)))).map((e) => e.name);
  assert.ok(names.indexOf('a/') < names.indexOf('a/b'));
  assert.ok(names.indexOf('a/b') < names.indexOf('a.txt'), "'/' sorts before '.' as in continuity");
  assert.deepEqual(collectChanges(compareTrees(empty, src)).length, names.length);
});

for (const compression of ['gzip', 'zstd'] as const) {
  test(`a ${compression} layer applies and its digest is the uncompressed tar's`, async (t) => {
    const dir = tempDir(t);
    const [empty, src, dst] = ['empty', 'src', 'dst'].map((n) => path.join(dir, n));
    [empty, src, dst].forEach((d) => fs.mkdirSync(d));
    makeRichTree(src);
    const plain = await layerBytes(compareTrees(empty, src));
    const packed = await layerBytes(compareTrees(empty, src), { compression });
    assert.ok(packed.length < plain.length);
    const result = await applyLayer(Readable.from([packed]), dst, { mode: 'directory' });
    assert.equal(result.digest, `sha256:${createHash('sha256').update(plain).digest('hex')}`);
    assert.deepEqual(describeTree(dst), describeTree(src));
  });
}

test('a diff of modifications applied to the lower reproduces the upper', async (t) => {
  const dir = tempDir(t);
  const [lower, upper, dst] = ['lower', 'upper', 'dst'].map((n) => path.join(dir, n));
  fs.mkdirSync(lower);
  makeRichTree(lower);
  fs.writeFileSync(path.join(lower, 'same-size'), 'old');
  touchNs(path.join(lower, 'same-size'), 1_600_000_000, 0);
  sh('cp', ['-a', lower, upper]);
  sh('cp', ['-a', lower, dst]);
  const u = (rel: string) => path.join(upper, rel);
  fs.rmSync(u('etc/conf.d'), { recursive: true }); // deleted directory: one whiteout
  fs.rmSync(u('empty'));
  fs.writeFileSync(u('same-size'), 'NEW'); // same size, new content ...
  touchNs(u('same-size'), 1_600_000_000, 0); // ... and the same mtime: content decides
  fs.chmodSync(u('usr/bin/ping'), 0o700);
  fs.chownSync(u('a.txt'), 5, 5);
  sh('setfattr', ['-n', 'user.new', '-v', 'v', u('usr/bin/suid')]);
  sh('setfattr', ['-x', 'trusted.bin', u('etc/hostname')]);
  fs.rmSync(u('a'), { recursive: true });
  fs.writeFileSync(u('a'), 'a directory became a file');
  fs.rmSync(u('tty0'));
  fs.mkdirSync(u('tty0')); // a device became a directory
  fs.writeFileSync(u('tty0/inside'), 'x');
  fs.writeFileSync(u('new-file'), 'new');
  touchNs(u('usr/bin/big'), 1_700_000_000, 123456789); // only the mtime changed
  fs.symlinkSync('elsewhere', u('usr/hostname-link2'));

  const changes = collectChanges(compareTrees(lower, upper));
  assert.deepEqual(changes.filter(([k]) => k === 'delete').map(([, p]) => p), ['empty', 'etc/conf.d']);
  assert.ok(changes.some(([k, p]) => k === 'modify' && p === 'same-size'));
  assert.ok(!changes.some(([, p]) => p === 'a/b'), 'a/b went with its directory');
  assert.ok(changes.some(([k, p]) => k === 'modify' && p === 'usr/bin/big'));

  await applyLayer(Readable.from([await layerBytes(compareTrees(lower, upper))]), dst, { mode: 'directory' });
  assert.deepEqual(describeTree(dst), describeTree(upper));
});

test('identical trees give an empty layer; unchanged hard links are not written', async (t) => {
  const dir = tempDir(t);
  const [lower, upper] = ['lower', 'upper'].map((n) => path.join(dir, n));
  fs.mkdirSync(lower);
  makeRichTree(lower);
  sh('cp', ['-a', lower, upper]);
  assert.deepEqual(listEntries(await layerBytes(compareTrees(lower, upper))), []);
});

test('sourceDateEpoch clamps later mtimes and dates whiteouts', async (t) => {
  const dir = tempDir(t);
  const [lower, upper] = ['lower', 'upper'].map((n) => path.join(dir, n));
  fs.mkdirSync(lower);
  fs.mkdirSync(upper);
  fs.writeFileSync(path.join(lower, 'gone'), '');
  fs.writeFileSync(path.join(upper, 'old'), '');
  fs.writeFileSync(path.join(upper, 'new'), '');
  touchNs(path.join(upper, 'old'), 1_000_000, 0);
  touchNs(path.join(upper, 'new'), 2_000_000_000, 0);
  const epoch = new Date(1_500_000_000_000);
  const entries = listEntries(await layerBytes(compareTrees(lower, upper), { compression: 'none', sourceDateEpoch: epoch }));
  assert.deepEqual(entries.map((e) => [e.name, e.mtimeSec]), [['.wh.gone', 1_500_000_000], ['new', 1_500_000_000], ['old', 1_000_000]]);
});

test('a PAX mtime with nanoseconds is applied (to the precision Node can set)', async (t) => {
  const { encodeHeader } = await import('../../src/changeset/tar-header');
  const dir = tempDir(t);
  const pax = Buffer.from('30 mtime=1600000000.123456789\n');
  const hdr = (name: string, typeflag: string, size: number) => {
    const b = encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtimeNs: 0n, linkname: '', devMajor: 0, devMinor: 0, xattrs: new Map() });
    b.write(typeflag, 156, 'latin1');
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of b) sum += x;
    b.write(sum.toString(8).padStart(6, '0') + '\0', 148, 7, 'latin1');
    return b;
  };
  const tar = Buffer.concat([hdr('PaxHeaders/f', 'x', pax.length), pax, Buffer.alloc(512 - pax.length), hdr('f', '0', 0), Buffer.alloc(1024)]);
  await applyLayer(Readable.from([tar]), dir, { mode: 'directory' });
  const ns = fs.statSync(path.join(dir, 'f'), { bigint: true }).mtimeNs;
  assert.ok(ns > 1_600_000_000_123_000_000n && ns < 1_600_000_000_124_000_000n, `mtime ${ns}`);
});
