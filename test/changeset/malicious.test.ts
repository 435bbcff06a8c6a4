import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { applyLayer, type ApplyMode } from '../../src/changeset/applier';
import { LayerFormatError, UnsafeEntryError } from '../../src/changeset/errors';
import { encodeHeader, padding, type EntryType } from '../../src/changeset/tar-header';
import { describeTree, tempDir } from './fixtures';

interface Spec { name: string; type?: EntryType; body?: string; linkname?: string; typeflag?: string }

function entry(s: Spec): Buffer {
  const body = Buffer.from(s.body ?? '');
  const header = encodeHeader({
    name: s.name, type: s.type ?? 'file', mode: 0o644, uid: 0, gid: 0, size: body.length, mtimeNs: 0n,
    linkname: s.linkname ?? '', devMajor: 0, devMinor: 0, xattrs: new Map(),
  });
  if (s.typeflag) rewriteTypeflag(header.subarray(header.length - 512), s.typeflag);
  return Buffer.concat([header, body, padding(body.length)]);
}

function rewriteTypeflag(block: Buffer, flag: string): void {
  block.write(flag, 156, 'latin1');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  block.write(sum.toString(8).padStart(6, '0') + '\0', 148, 7, 'latin1');
}

const tarOf = (...specs: Spec[]) => Buffer.concat([...specs.map(entry), Buffer.alloc(1024)]);

/** A target with a sentinel tree next to it; checks nothing outside the target changes. */
async function attempt(t: { after(fn: () => void): void }, layer: Buffer, mode: ApplyMode = 'directory') {
  const dir = tempDir(t, 'mal');
  const target = path.join(dir, 'target');
  const outside = path.join(dir, 'outside');
  fs.mkdirSync(target);
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, 'sentinel'), 'untouched');
  const before = describeTree(dir + '/outside', { dirMtimes: true });
  const listing = fs.readdirSync(dir).sort();
  let error: unknown;
  try {
    await applyLayer(Readable.from([layer]), target, { mode });
  } catch (err) {
    error = err;
  }
  assert.deepEqual(describeTree(outside, { dirMtimes: true }), before, 'outside the target nothing changed');
  assert.deepEqual(fs.readdirSync(dir).sort(), listing);
  assert.equal(fs.readFileSync(path.join(outside, 'sentinel'), 'utf8'), 'untouched');
  return { error, target };
}

function expectError(error: unknown, cls: new (...a: never[]) => Error, pattern: RegExp): void {
  assert.ok(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
  assert.match((error as Error).message, pattern);
}

test("'..' in a name is rejected", async (t) => {
  const { error } = await attempt(t, tarOf({ name: '../outside/sentinel', body: 'pwned' }));
  expectError(error, UnsafeEntryError, /"\.\.\/outside\/sentinel".*'\.\.'/);
});

test("'..' in the middle of a name is rejected", async (t) => {
  const { error } = await attempt(t, tarOf({ name: 'a/../../outside/x', body: 'pwned' }));
  expectError(error, UnsafeEntryError, /'\.\.'/);
});

test('an absolute name is made relative to the target, as containerd does', async (t) => {
  const { error, target } = await attempt(t, tarOf({ name: '/etc/evil', body: 'inside' }));
  assert.equal(error, undefined);
  assert.equal(fs.readFileSync(path.join(target, 'etc/evil'), 'utf8'), 'inside');
});

test('a file through a symlinked parent that leads outside is rejected', async (t) => {
  const { error } = await attempt(t, tarOf({ name: 'evil', type: 'symlink', linkname: '../outside' }, { name: 'evil/sentinel', body: 'pwned' }));
  expectError(error, UnsafeEntryError, /"evil\/sentinel".*parent "evil" is a symlink to "\.\.\/outside", which leads outside/);
});

test('an absolute symlink parent resolves inside the target', async (t) => {
  const { error, target } = await attempt(t, tarOf({ name: 'abs', type: 'symlink', linkname: '/' }, { name: 'abs/inside', body: 'x' }));
  assert.equal(error, undefined);
  assert.equal(fs.readFileSync(path.join(target, 'inside'), 'utf8'), 'x');
});

test('a file entry replaces a symlink instead of writing through it', async (t) => {
  const { error, target } = await attempt(t, tarOf({ name: 'link', type: 'symlink', linkname: '../outside/sentinel' }, { name: 'link', body: 'replaced' }));
  assert.equal(error, undefined);
  assert.equal(fs.readFileSync(path.join(target, 'link'), 'utf8'), 'replaced');
  assert.ok(fs.lstatSync(path.join(target, 'link')).isFile());
});

test('a hard link to /etc/passwd means the one inside the target, which does not exist', async (t) => {
  const { error } = await attempt(t, tarOf({ name: 'passwd', type: 'link', linkname: '/etc/passwd' }));
  expectError(error, LayerFormatError, /"passwd": hard link target "\/etc\/passwd" does not exist/);
});

test('a hard link climbing out of the target is rejected', async (t) => {
  const { error } = await attempt(t, tarOf({ name: 'hl', type: 'link', linkname: '../outside/sentinel' }));
  expectError(error, UnsafeEntryError, /"hl": hard link target "\.\.\/outside\/sentinel"/);
});

test('a hard link through a symlink leading outside is rejected', async (t) => {
  const { error } = await attempt(t, tarOf({ name: 'out', type: 'symlink', linkname: '../outside' }, { name: 'hl', type: 'link', linkname: 'out/sentinel' }));
  expectError(error, UnsafeEntryError, /"hl".*leads outside/);
});

test("whiteouts naming '..' or '.' are rejected", async (t) => {
  for (const name of ['.wh...', 'dir/.wh..']) {
    const { error } = await attempt(t, tarOf({ name: 'dir/', type: 'directory' }, { name }));
    expectError(error, UnsafeEntryError, /whiteout of "\.\.?" does not name an entry/);
  }
  const { error } = await attempt(t, tarOf({ name: '../.wh.outside' }));
  expectError(error, UnsafeEntryError, /'\.\.'/);
});

test('a whiteout through a symlink leading outside is rejected, in both modes', async (t) => {
  for (const mode of ['directory', 'overlay-upper'] as const) {
    const { error } = await attempt(t, tarOf({ name: 'up', type: 'symlink', linkname: '..' }, { name: 'up/outside/.wh.sentinel' }), mode);
    expectError(error, UnsafeEntryError, /leads outside/);
  }
});

test('a truncated stream is an error naming the entry', async (t) => {
  const tar = tarOf({ name: 'big', body: 'x'.repeat(4000) });
  const { error } = await attempt(t, tar.subarray(0, 2048));
  expectError(error, LayerFormatError, /truncated tar stream: it ends inside the content of "big"/);
  const { error: noEnd } = await attempt(t, tar.subarray(0, tar.length - 1024));
  expectError(noEnd, LayerFormatError, /no end-of-archive marker/);
});

test('corrupt and truncated gzip are errors', async (t) => {
  const gz = zlib.gzipSync(tarOf({ name: 'f', body: 'y'.repeat(100_000) }));
  const corrupt = Buffer.from(gz);
  for (let i = 40; i < 60; i++) corrupt[i] ^= 0xff;
  expectError((await attempt(t, corrupt)).error, LayerFormatError, /corrupt gzip data/);
  expectError((await attempt(t, gz.subarray(0, gz.length - 30))).error, LayerFormatError, /gzip|truncated/);
});

test('an unknown type flag is an error naming the entry', async (t) => {
  const { error } = await attempt(t, tarOf({ name: 'weird', typeflag: 'Z' }));
  expectError(error, LayerFormatError, /entry "weird" has unsupported type flag "Z"/);
});

test('a garbage stream is an error', async (t) => {
  const { error } = await attempt(t, Buffer.alloc(2048, 'A'));
  expectError(error, LayerFormatError, /checksum/);
});

test('duplicate entries: the later one wins, whatever the types', async (t) => {
  const { error, target } = await attempt(t, tarOf(
    { name: 'dup', body: 'one' }, { name: 'dup', body: 'two' },
    { name: 'was-dir/', type: 'directory' }, { name: 'was-dir/child', body: 'c' }, { name: 'was-dir', body: 'now a file' },
    { name: 'was-file', body: 'f' }, { name: 'was-file/', type: 'directory' }, { name: 'was-file/x', body: 'x' },
  ));
  assert.equal(error, undefined);
  assert.equal(fs.readFileSync(path.join(target, 'dup'), 'utf8'), 'two');
  assert.equal(fs.readFileSync(path.join(target, 'was-dir'), 'utf8'), 'now a file');
  assert.equal(fs.readFileSync(path.join(target, 'was-file/x'), 'utf8'), 'x');
});

test('a huge PAX header is refused before it is read', async (t) => {
  const header = Buffer.alloc(512);
  header.write('PaxHeaders/huge', 0);
  const real = entry({ name: 'x' }).subarray(0, 512);
  real.copy(header, 100, 100, 156); // mode, ids, size, mtime from a valid header
  header.write((64 << 20).toString(8).padStart(11, '0') + '\0', 124, 12, 'latin1');
  real.copy(header, 257, 257, 265);
  rewriteTypeflag(header, 'x');
  const { error } = await attempt(t, Buffer.concat([header, Buffer.alloc(4096, 'a')]));
  expectError(error, LayerFormatError, /PAX header of 67108864 bytes .* exceeds the 1048576-byte limit/);
});

test("a hard link entry's owner, mode and time apply to the shared inode, as in containerd", async (t) => {
  const file = entry({ name: 'bin/tool', body: 'x' });
  const body = Buffer.alloc(0);
  const link = Buffer.concat([
    encodeHeader({
      name: 'bin/tool-link', type: 'link', mode: 0o4750, uid: 1000, gid: 1001, size: 0, mtimeNs: 1_700_000_000_000_000_000n,
      linkname: 'bin/tool', devMajor: 0, devMinor: 0, xattrs: new Map(),
    }),
    padding(body.length),
  ]);
  const { error, target } = await attempt(t, Buffer.concat([entry({ name: 'bin/', type: 'directory' }), file, link, Buffer.alloc(1024)]));
  assert.equal(error, undefined);
  for (const name of ['bin/tool', 'bin/tool-link']) {
    const stat = fs.statSync(path.join(target, name));
    assert.equal(stat.mode & 0o7777, 0o4750, name);
    assert.equal(stat.uid, 1000);
    assert.equal(stat.gid, 1001);
    assert.equal(stat.mtimeMs, 1_700_000_000_000);
    assert.equal(stat.nlink, 2);
  }
});
