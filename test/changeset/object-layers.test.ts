/**
 * Diffs over an object store: layer directories of metadata-only stubs
 * whose bytes are objects in data-only lower layers (`lowerdir=…::data`),
 * mounted by the kernel with metacopy=on,redirect_dir=on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setAttributeSync } from '@napi-rs/xattr';
import { applyLayer } from '../../src/changeset/applier';
import { compareTrees } from '../../src/changeset/compare';
import { overlayUpperChanges } from '../../src/changeset/overlay-upper';
import { withChanges } from '../../src/diff/tree-changes';
import { withMounts } from '../../src/mount';
import { isSnapshotError } from '../../src/snapshots/errors';
import type { Mount } from '../../src/snapshots/types';
import { describeTree, sh, tempDir, touchNs } from './fixtures';
import { fastLayer, layerBytes, listEntries, type ListedEntry } from './layer-io';

interface Meta { mode?: number; uid?: number; gid?: number; mtimeSec?: number }

/** Where `content` is stored as an object, as the redirect names it: `/<2 chars>/<20 chars>`. */
function objectName(content: Buffer): string {
  const hex = createHash('sha256').update(content).digest('hex');
  return `/${hex.slice(0, 2)}/${hex.slice(2, 22)}`;
}

function putObject(dataDir: string, redirect: string, content: Buffer): void {
  fs.mkdirSync(path.join(dataDir, path.dirname(redirect)), { recursive: true });
  fs.writeFileSync(path.join(dataDir, redirect), content);
}

function setMeta(file: string, meta: Meta): void {
  if (meta.mode !== undefined) fs.chmodSync(file, meta.mode);
  if (meta.uid !== undefined || meta.gid !== undefined) fs.chownSync(file, meta.uid ?? 0, meta.gid ?? 0);
  if (meta.mtimeSec !== undefined) touchNs(file, meta.mtimeSec, 0);
}

/** A store stub: the right size and metadata, no data blocks, and the xattrs that send overlay to `redirect`. */
function stubTo(layer: string, rel: string, redirect: string, size: number, meta: Meta = {}): string {
  const file = path.join(layer, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  fs.truncateSync(file, size);
  setAttributeSync(file, 'trusted.overlay.metacopy', Buffer.alloc(0));
  setAttributeSync(file, 'trusted.overlay.redirect', redirect);
  setMeta(file, meta);
  return file;
}

/** A stub for `content`, stored in `dataDir` first. */
function stub(layer: string, dataDir: string, rel: string, content: string | Buffer, meta: Meta = {}): string {
  const bytes = Buffer.from(content);
  const redirect = objectName(bytes);
  putObject(dataDir, redirect, bytes);
  return stubTo(layer, rel, redirect, bytes.length, meta);
}

function mkdirs(root: string, ...rels: string[]): void {
  for (const rel of rels) fs.mkdirSync(path.join(root, rel), { recursive: true });
}

/** strata's object-mode Mounts: a view without `upper`, an active snapshot with one. */
function objectMounts(lowers: string[], dataDirs: string[], upper?: { upper: string; work: string }): Mount[] {
  return [{
    type: 'overlay',
    source: 'overlay',
    options: [
      'index=off',
      ...(upper ? [`workdir=${upper.work}`, `upperdir=${upper.upper}`] : []),
      `lowerdir=${lowers.join(':')}::${dataDirs.join('::')}`,
      'metacopy=on',
      'redirect_dir=on',
    ],
  }];
}

const fullCompare = (left: Mount[], right: Mount[]) =>
  withMounts(left, (lower) => withMounts(right, async (upper) => listEntries(await layerBytes(compareTrees(lower, upper)))));

const OVERLAY_BOOKKEEPING = /^trusted\.overlay\.(metacopy|redirect|origin|opaque|impure|uuid)$/;

function assertNoBookkeeping(entries: ListedEntry[]): void {
  for (const entry of entries) {
    const leaked = Object.keys(entry.xattrs).filter((name) => OVERLAY_BOOKKEEPING.test(name));
    assert.deepEqual(leaked, [], `${entry.name} carries overlay bookkeeping`);
  }
}

const hex = (s: string) => Buffer.from(s).toString('hex');

test('a view of a layer of stubs: the kernel reads the objects, and the fast path writes what a compare through the mounts writes', async (t) => {
  const dir = tempDir(t, 'objview');
  const [data1, data2, l1, l2] = ['data1', 'data2', 'l1', 'l2'].map((n) => path.join(dir, n));
  mkdirs(dir, 'data1', 'data2', 'l1', 'l2');
  const big = Buffer.alloc(3 << 20, 9);

  mkdirs(l1, 'etc', 'usr/bin', 'var/cache', 'gone-dir/sub');
  stub(l1, data1, 'etc/hostname', 'old host\n', { mode: 0o644, mtimeSec: 1_600_000_000 });
  stub(l1, data1, 'etc/passwd', 'root:x:0:0\n', { mtimeSec: 1_600_000_100 });
  stub(l1, data1, 'usr/bin/tool', big, { mode: 0o755, mtimeSec: 1_600_000_200 });
  stub(l1, data1, 'var/cache/gone', 'to be deleted');
  stub(l1, data1, 'gone-dir/sub/f', 'in a deleted dir');

  mkdirs(l2, 'etc', 'usr/bin', 'var/cache', 'srv/www');
  fs.utimesSync(path.join(l2, 'usr/bin'), 1_600_000_300, 1_600_000_300);
  stub(l2, data1, 'etc/hostname', 'new host\n', { mode: 0o600, uid: 1000, gid: 1001, mtimeSec: 1_700_000_000 });
  const newTool = stub(l2, data1, 'usr/bin/new-tool', big.subarray(1), { mode: 0o4755, mtimeSec: 1_700_000_100 });
  setAttributeSync(newTool, 'security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
  setAttributeSync(newTool, 'user.note', 'plain');
  fs.linkSync(newTool, path.join(l2, 'usr/bin/new-tool-link'));
  // Only in the second data dir; and one shadowed there, whose first copy the kernel reads.
  const onlySecond = Buffer.from('found in the second store\n');
  putObject(data2, objectName(onlySecond), onlySecond);
  stubTo(l2, 'srv/www/index.html', objectName(onlySecond), onlySecond.length, { mtimeSec: 1_700_000_200 });
  const shadowed = Buffer.from('first store copy\n');
  putObject(data1, objectName(shadowed), shadowed);
  putObject(data2, objectName(shadowed), Buffer.from('other store copy\n'));
  stubTo(l2, 'srv/www/shadowed', objectName(shadowed), shadowed.length, { mtimeSec: 1_700_000_300 });
  const escaped = stub(l2, data1, 'srv/www/escaped', 'has escaped xattrs', { mtimeSec: 1_700_000_400 });
  setAttributeSync(escaped, 'trusted.overlay.overlay.foo', 'bar');
  fs.writeFileSync(path.join(l2, 'srv/www/inline'), 'a small file kept inline');
  fs.writeFileSync(path.join(l2, 'srv/www/empty'), '');
  fs.symlinkSync('../etc/hostname', path.join(l2, 'srv/hostname-link'));
  sh('mknod', [path.join(l2, 'var/cache/gone'), 'c', '0', '0']);
  sh('mknod', [path.join(l2, 'gone-dir'), 'c', '0', '0']);

  const dataDirs = [data1, data2];
  const parent = objectMounts([l1], dataDirs);
  const view = objectMounts([l2, l1], dataDirs);
  await withMounts(view, async (merged) => {
    const read = (rel: string) => fs.readFileSync(path.join(merged, rel), 'utf8');
    assert.equal(read('etc/hostname'), 'new host\n');
    assert.equal(read('etc/passwd'), 'root:x:0:0\n');
    assert.ok(fs.readFileSync(path.join(merged, 'usr/bin/tool')).equals(big));
    assert.equal(read('srv/www/index.html'), 'found in the second store\n');
    assert.equal(read('srv/www/shadowed'), 'first store copy\n');
    assert.equal(fs.lstatSync(path.join(merged, 'etc/hostname')).mode & 0o7777, 0o600);
    assert.ok(!fs.existsSync(path.join(merged, 'gone-dir')));
  });

  const fast = listEntries(await fastLayer(l2, [l1], { dataDirs }));
  assert.deepEqual(fast, await fullCompare(parent, view));
  assert.deepEqual(listEntries(await withChanges(parent, view, layerBytes)), fast);

  const byName = new Map(fast.map((e) => [e.name, e]));
  assert.equal(byName.get('usr/bin/new-tool')?.content, createHash('sha256').update(big.subarray(1)).digest('hex'));
  assert.deepEqual([byName.get('usr/bin/new-tool-link')?.type, byName.get('usr/bin/new-tool-link')?.linkname], ['link', 'usr/bin/new-tool']);
  assert.deepEqual(byName.get('srv/www/escaped')?.xattrs, { 'trusted.overlay.foo': hex('bar') });
  assert.ok(byName.has('.wh.gone-dir') && byName.has('var/cache/.wh.gone'));
  assertNoBookkeeping(fast);
});

test('a container over stub layers: chmod, append, renames and a deletion fall back to the merged view and reproduce it', async (t) => {
  const dir = tempDir(t, 'objctr');
  const [data, l1, l2] = ['data', 'l1', 'l2'].map((n) => path.join(dir, n));
  const rw = { upper: path.join(dir, 'u'), work: path.join(dir, 'w') };
  const merged = path.join(dir, 'm');
  mkdirs(dir, 'data', 'l1', 'l2', 'u', 'w', 'm');

  mkdirs(l1, 'etc', 'usr/lib', 'docs', 'srv/www/css', 'bin');
  stub(l1, data, 'etc/passwd', 'root:x:0:0\n', { mode: 0o644, mtimeSec: 1_600_000_000 });
  stub(l1, data, 'usr/lib/libx.so', 'ELF libx', { mode: 0o755, mtimeSec: 1_600_000_100 });
  stub(l1, data, 'docs/readme', 'read me\n', { mtimeSec: 1_600_000_200 });
  stub(l1, data, 'srv/www/index.html', '<html>\n', { uid: 33, gid: 33, mtimeSec: 1_600_000_300 });
  stub(l1, data, 'srv/www/css/site.css', 'body {}\n', { mtimeSec: 1_600_000_400 });
  stub(l1, data, 'bin/sh', 'a shell', { mode: 0o755, mtimeSec: 1_600_000_500 });
  mkdirs(l2, 'etc');
  stub(l2, data, 'etc/motd', 'welcome\n', { mtimeSec: 1_700_000_000 });
  stub(l2, data, 'etc/group', 'root:x:0:\n', { mtimeSec: 1_700_000_100 });

  const parent = objectMounts([l2, l1], [data]);
  const active = objectMounts([l2, l1], [data], rw);
  sh('mount', ['-t', 'overlay', 'overlay', '-o', active[0].options.join(','), merged]);
  let mounted = true;
  t.after(() => { if (mounted) sh('umount', [merged]); });
  const m = (rel: string) => path.join(merged, rel);
  fs.chmodSync(m('etc/passwd'), 0o600);
  fs.chownSync(m('etc/group'), 0, 42);
  fs.appendFileSync(m('usr/lib/libx.so'), ' patched');
  fs.renameSync(m('docs/readme'), m('docs/README'));
  fs.chmodSync(m('bin/sh'), 0o700);
  fs.renameSync(m('bin/sh'), m('bin/dash'));
  fs.renameSync(m('srv/www'), m('srv/site'));
  fs.rmSync(m('etc/motd'));
  fs.writeFileSync(m('srv/site/new.txt'), 'new\n');
  const expected = describeTree(merged, { links: false });
  sh('umount', [merged]);
  mounted = false;

  // Metacopy files and redirects whose content is in the lower layers under other names.
  assert.equal(overlayUpperChanges(rw.upper, [l2, l1], { dataDirs: [data] }), undefined);
  const layer = await withChanges(parent, active, layerBytes);
  const entries = listEntries(layer);
  assert.ok(entries.some((e) => e.name === 'srv/site/css/site.css'), 'the renamed directory is written whole');
  assertNoBookkeeping(entries);

  const copy = path.join(dir, 'copy');
  await withMounts(parent, async (lower) => sh('cp', ['-a', lower, copy]));
  await applyLayer(Readable.from([layer]), copy, { mode: 'directory' });
  assert.deepEqual(describeTree(copy, { links: false }), expected);
});

test('escaped overlay xattrs are written unescaped, and overlay bookkeeping never', async (t) => {
  const dir = tempDir(t, 'objxattr');
  const [data, l1] = ['data', 'l1'].map((n) => path.join(dir, n));
  const rw = { upper: path.join(dir, 'u'), work: path.join(dir, 'w') };
  const merged = path.join(dir, 'm');
  mkdirs(dir, 'data', 'l1', 'u', 'w', 'm');
  mkdirs(l1, 'etc', 'opt/old');
  stub(l1, data, 'etc/config', 'config', { mtimeSec: 1_600_000_000 });
  stub(l1, data, 'opt/old/file', 'old');

  const active = objectMounts([l1], [data], rw);
  sh('mount', ['-t', 'overlay', 'overlay', '-o', active[0].options.join(','), merged]);
  try {
    fs.appendFileSync(path.join(merged, 'etc/config'), ' changed'); // a copy-up: origin
    sh('setfattr', ['-n', 'trusted.overlay.via-mount', '-v', 'mounted', path.join(merged, 'etc/config')]);
    fs.rmSync(path.join(merged, 'opt'), { recursive: true });
    fs.mkdirSync(path.join(merged, 'opt')); // opaque
  } finally {
    sh('umount', [merged]);
  }
  // As strata's applier writes a layer entry with trusted.overlay.foo into an upper dir.
  mkdirs(rw.upper, 'new');
  const written = stub(rw.upper, data, 'new/stub', 'stub content', { mtimeSec: 1_700_000_000 });
  setAttributeSync(written, 'trusted.overlay.overlay.foo', 'bar');
  setAttributeSync(written, 'trusted.overlay.origin', Buffer.from('00', 'hex'));
  const upperXattrs = describeTree(rw.upper);
  assert.equal(upperXattrs['etc/config'].xattrs['trusted.overlay.overlay.via-mount'], hex('mounted'), 'the kernel escapes it in the layer');
  assert.ok(upperXattrs['etc/config'].xattrs['trusted.overlay.origin'] !== undefined);
  assert.equal(upperXattrs['opt'].xattrs['trusted.overlay.opaque'], hex('y'));

  const entries = listEntries(await fastLayer(rw.upper, [l1], { dataDirs: [data] }));
  const byName = new Map(entries.map((e) => [e.name, e]));
  assert.deepEqual(byName.get('etc/config')?.xattrs, { 'trusted.overlay.via-mount': hex('mounted') });
  assert.deepEqual(byName.get('new/stub')?.xattrs, { 'trusted.overlay.foo': hex('bar') });
  assert.equal(byName.get('new/stub')?.content, createHash('sha256').update('stub content').digest('hex'));
  assert.ok(byName.has('opt/.wh..wh..opq'));
  assertNoBookkeeping(entries);

  // What the kernel shows through the mounts, entry for entry where both write one.
  const full = new Map((await fullCompare(objectMounts([l1], [data]), objectMounts([rw.upper, l1], [data]))).map((e) => [e.name, e]));
  for (const name of ['etc/config', 'new/stub']) assert.deepEqual(byName.get(name), full.get(name), name);
});

test('with userxattr, user.overlay.overlay.X is written as user.overlay.X and other user.overlay.* never', async (t) => {
  const dir = tempDir(t, 'objuser');
  const [lower, upper] = ['l', 'u'].map((n) => path.join(dir, n));
  mkdirs(dir, 'l', 'u');
  const file = path.join(upper, 'f');
  fs.writeFileSync(file, 'f');
  setAttributeSync(file, 'user.overlay.overlay.foo', 'bar');
  setAttributeSync(file, 'user.overlay.origin', Buffer.from('00', 'hex'));
  setAttributeSync(file, 'trusted.overlay.kept', 'not the overlay\'s with userxattr');
  const [entry] = listEntries(await fastLayer(upper, [lower], { userxattr: true }));
  assert.deepEqual(entry.xattrs, { 'user.overlay.foo': hex('bar'), 'trusted.overlay.kept': hex('not the overlay\'s with userxattr') });
});

test('a stub whose redirect climbs out of the store fails the diff instead of reading outside', async (t) => {
  const dir = tempDir(t, 'objbad');
  const [data, outside] = ['data', 'outside'].map((n) => path.join(dir, n));
  mkdirs(dir, 'data', 'outside');
  fs.writeFileSync(path.join(outside, 'secret'), 'secret');
  fs.symlinkSync(outside, path.join(data, 'Zz'));
  const cases: Array<[string, RegExp]> = [['/../outside/secret', /'\.\.'/], ['/Zz/secret', /leads out of/]];
  for (const [redirect, message] of cases) {
    const layer = path.join(dir, `layer-${cases.findIndex(([r]) => r === redirect)}`);
    fs.mkdirSync(layer);
    stubTo(layer, 'f', redirect, 'secret'.length);
    const refused = (err: unknown) => isSnapshotError(err, 'FailedPrecondition') && message.test((err as Error).message);
    assert.throws(() => overlayUpperChanges(layer, [], { dataDirs: [data] }), refused, redirect);
    await assert.rejects(withChanges([], objectMounts([layer], [data]), layerBytes), refused, redirect);
  }
});
