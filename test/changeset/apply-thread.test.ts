import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { applyLayer } from '../../src/changeset/applier';
import { LayerFormatError } from '../../src/changeset/errors';
import { encodeHeader, padding, type EntryType } from '../../src/changeset/tar-header';
import { describeTree, tempDir } from './fixtures';

interface Spec { name: string; type?: EntryType; body?: string | Buffer; linkname?: string; mode?: number; devMajor?: number; devMinor?: number }

function tarOf(...specs: Spec[]): Buffer {
  return Buffer.concat([
    ...specs.flatMap((s) => {
      const body = Buffer.from(s.body ?? '');
      const header = encodeHeader({
        name: s.name, type: s.type ?? 'file', mode: s.mode ?? 0o644, uid: 0, gid: 0, size: body.length, mtimeNs: 1_600_000_000_000_000_000n,
        linkname: s.linkname ?? '', devMajor: s.devMajor ?? 0, devMinor: s.devMinor ?? 0, xattrs: new Map(),
      });
      return [header, body, padding(body.length)];
    }),
    Buffer.alloc(1024),
  ]);
}

/** Splits a buffer into small chunks so entries and bodies straddle chunk and slot boundaries. */
function chunked(data: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) chunks.push(data.subarray(i, i + size));
  return Readable.from(chunks);
}

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('concurrent applies each get their own thread and the right result', async (t) => {
  const dir = tempDir(t, 'conc');
  // Bodies larger than a ring slot (1 MiB) with odd sizes, fed in odd chunks.
  const layers = [0, 1, 2].map((n) => tarOf(
    { name: 'd/', type: 'directory' },
    { name: `d/big-${n}`, body: Buffer.alloc((3 << 20) + 7 * n + 1, n + 1) },
    { name: 'd/small', body: `layer ${n}` },
    { name: 'd/link', type: 'link', linkname: `d/big-${n}` },
  ));
  const results = await Promise.all(layers.map((layer, n) => {
    fs.mkdirSync(path.join(dir, `t${n}`));
    return applyLayer(chunked(layer, 65_537), path.join(dir, `t${n}`), { mode: 'directory' });
  }));
  for (const [n, result] of results.entries()) {
    assert.deepEqual(result, { digest: sha256(layers[n]), size: layers[n].length, entries: 4 });
    const big = fs.readFileSync(path.join(dir, `t${n}/d/big-${n}`));
    assert.equal(big.length, (3 << 20) + 7 * n + 1);
    assert.ok(big.every((b) => b === n + 1));
    assert.equal(fs.readFileSync(path.join(dir, `t${n}/d/small`), 'utf8'), `layer ${n}`);
    assert.equal(fs.statSync(path.join(dir, `t${n}/d/link`)).ino, fs.statSync(path.join(dir, `t${n}/d/big-${n}`)).ino);
  }
});

test('a failed apply does not disturb the next ones (threads are reused only after a clean job)', async (t) => {
  const dir = tempDir(t, 'reuse');
  for (let round = 0; round < 3; round++) {
    const bad = path.join(dir, `bad${round}`);
    const good = path.join(dir, `good${round}`);
    fs.mkdirSync(bad);
    fs.mkdirSync(good);
    // The failure comes while more bytes are still being sent.
    const failing = tarOf({ name: 'x', type: 'link', linkname: 'missing' }, { name: 'pad', body: Buffer.alloc(4 << 20) });
    await assert.rejects(applyLayer(chunked(failing, 100_000), bad, { mode: 'directory' }), (err: unknown) =>
      err instanceof LayerFormatError && /hard link target "missing" does not exist/.test(err.message));
    const layer = tarOf({ name: 'ok', body: `round ${round}` });
    assert.deepEqual(await applyLayer(Readable.from([layer]), good, { mode: 'directory' }), { digest: sha256(layer), size: layer.length, entries: 1 });
    assert.equal(fs.readFileSync(path.join(good, 'ok'), 'utf8'), `round ${round}`);
  }
});

test('an error from the source stream is the error applyLayer reports, after the thread stopped', async (t) => {
  const dir = tempDir(t, 'srcerr');
  const layer = tarOf({ name: 'a', body: Buffer.alloc(2 << 20, 1) }, { name: 'b', body: 'b' });
  async function* failing(): AsyncGenerator<Buffer> {
    yield layer.subarray(0, 1 << 20);
    throw new Error('connection to the content store lost');
  }
  await assert.rejects(applyLayer(failing(), dir, { mode: 'directory' }), /connection to the content store lost/);
  // Nothing changes the target after the rejection.
  const after = describeTree(dir);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.deepEqual(describeTree(dir), after);
  assert.ok(!fs.existsSync(path.join(dir, 'b')));
});

test('special files are made in batches, yet duplicates, replacements and hard links to them work', async (t) => {
  const dir = tempDir(t, 'spec');
  const layer = tarOf(
    { name: 'dev/', type: 'directory' },
    { name: 'dev/null', type: 'char-device', mode: 0o666, devMajor: 1, devMinor: 3 },
    { name: 'dev/null', type: 'char-device', mode: 0o600, devMajor: 1, devMinor: 5 }, // duplicate: the later wins
    { name: 'dev/fifo', type: 'fifo', mode: 0o640 },
    { name: 'dev/fifo-link', type: 'link', mode: 0o640, linkname: 'dev/fifo' }, // a hard link to a node still pending
    { name: 'dev/loop0', type: 'block-device', mode: 0o660, devMajor: 7, devMinor: 0 },
    { name: 'dev/loop0', body: 'now a file' }, // a node replaced by a file
    { name: 'dev/gone', type: 'fifo' },
    { name: 'dev/.wh.gone', type: 'file' },
  );
  await applyLayer(Readable.from([layer]), dir, { mode: 'directory' });
  const tree = describeTree(dir);
  assert.deepEqual(Object.keys(tree).sort(), ['dev', 'dev/fifo', 'dev/fifo-link', 'dev/loop0', 'dev/null']);
  assert.equal(tree['dev/null'].type, 'char');
  assert.equal(tree['dev/null'].mode, '600');
  assert.equal(tree['dev/null'].device, JSON.stringify({ major: 1, minor: 5 }));
  assert.equal(tree['dev/fifo'].type, 'fifo');
  assert.equal(tree['dev/fifo'].mode, '640');
  assert.equal(tree['dev/fifo'].nlink, 2);
  assert.equal(tree['dev/loop0'].type, 'file');
  assert.equal(fs.readFileSync(path.join(dir, 'dev/loop0'), 'utf8'), 'now a file');
});

test('many whiteouts in overlay-upper mode become 0/0 character devices', async (t) => {
  const dir = tempDir(t, 'wh');
  const names = Array.from({ length: 300 }, (_, i) => `gone-${i}`);
  const layer = tarOf({ name: 'etc/', type: 'directory' }, ...names.map((n) => ({ name: `etc/.wh.${n}` })), { name: 'etc/kept', body: 'k' });
  await applyLayer(Readable.from([layer]), dir, { mode: 'overlay-upper' });
  const tree = describeTree(dir);
  for (const n of names) {
    assert.equal(tree[`etc/${n}`]?.type, 'char', n);
    assert.equal(tree[`etc/${n}`].device, JSON.stringify({ major: 0, minor: 0 }));
  }
  assert.equal(tree['etc/kept'].type, 'file');
});

test('special files under long and non-ASCII paths are made where they belong', async (t) => {
  const dir = tempDir(t, 'speclong');
  const deep = `${'d'.repeat(120)}/${'é'.repeat(60)}`;
  const layer = tarOf(
    { name: `${deep.split('/')[0]}/`, type: 'directory' },
    { name: `${deep}/`, type: 'directory' },
    { name: `${deep}/fifo-ü`, type: 'fifo', mode: 0o604 },
    { name: `${deep}/null`, type: 'char-device', mode: 0o666, devMajor: 1, devMinor: 3 },
  );
  await applyLayer(Readable.from([layer]), dir, { mode: 'directory' });
  const tree = describeTree(dir);
  assert.equal(tree[`${deep}/fifo-ü`]?.type, 'fifo');
  assert.equal(tree[`${deep}/fifo-ü`].mode, '604');
  assert.equal(tree[`${deep}/null`]?.device, JSON.stringify({ major: 1, minor: 3 }));
  assert.deepEqual(fs.readdirSync(path.join(dir, deep)).sort(), ['fifo-ü', 'null']);
});

test('a stream digest the caller checks is the DiffID of an uncompressed layer, and ignored for a compressed one', async (t) => {
  const dir = tempDir(t, 'stream-digest');
  const layer = tarOf({ name: 'f', body: 'content' });
  // A digest that is not the layer's own shows that it was taken, not computed.
  const claimed = sha256(Buffer.from('the blob digest the caller verifies'));
  const plain = path.join(dir, 'plain');
  const gzipped = path.join(dir, 'gzipped');
  const sha512 = path.join(dir, 'sha512');
  for (const d of [plain, gzipped, sha512]) fs.mkdirSync(d);

  assert.equal((await applyLayer(Readable.from([layer]), plain, { mode: 'directory', streamDigest: claimed })).digest, claimed);
  const gz = zlib.gzipSync(layer);
  assert.equal((await applyLayer(Readable.from([gz]), gzipped, { mode: 'directory', streamDigest: sha256(gz) })).digest, sha256(layer));
  // Only a sha256 digest can stand for the DiffID.
  assert.equal((await applyLayer(Readable.from([layer]), sha512, { mode: 'directory', streamDigest: 'sha512:00' })).digest, sha256(layer));
});
