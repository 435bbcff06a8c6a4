import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer } from '../../src/changeset/applier';
import { encodeHeader, padding } from '../../src/changeset/tar-header';
import { compareTrees } from '../../src/changeset/compare';
import { describeTree, makeRichTree, sh, tempDir } from './fixtures';
import { collectChanges, fastLayer, layerBytes, listEntries, upperChanges } from './layer-io';

interface Overlay { lower: string; upper: string; work: string; merged: string }

function overlay(t: { after(fn: () => void): void }, lowerDirs?: string[], extraOptions = ''): Overlay {
  const dir = tempDir(t, 'ovl');
  const o = { lower: path.join(dir, 'l'), upper: path.join(dir, 'u'), work: path.join(dir, 'w'), merged: path.join(dir, 'm') };
  Object.values(o).forEach((d) => fs.mkdirSync(d));
  if (!lowerDirs) makeRichTree(o.lower);
  const lowers = (lowerDirs ?? [o.lower]).join(':');
  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers},upperdir=${o.upper},workdir=${o.work}${extraOptions}`, o.merged]);
  let mounted = true;
  t.after(() => { if (mounted) sh('umount', [o.merged]); });
  return Object.assign(o, { unmount: () => { sh('umount', [o.merged]); mounted = false; } });
}

test('the upper-dir fast path writes the same entries as the full compare', async (t) => {
  const o = overlay(t) as Overlay & { unmount(): void };
  const m = (rel: string) => path.join(o.merged, rel);
  fs.writeFileSync(m('etc/hostname'), 'changed\n');
  fs.rmSync(m('usr/bin/suid'));
  fs.rmSync(m('a'), { recursive: true });
  fs.mkdirSync(m('new-dir/sub'), { recursive: true });
  fs.writeFileSync(m('new-dir/sub/file'), 'n');
  fs.chmodSync(m('usr/bin/ping'), 0o711);
  sh('setfattr', ['-n', 'user.added', '-v', 'x', m('a.txt')]);
  fs.symlinkSync('target', m('var/new-link'));

  const full = listEntries(await layerBytes(compareTrees(o.lower, o.merged)));
  o.unmount();
  const fast = listEntries(await fastLayer(o.upper, [o.lower]));
  assert.deepEqual(fast, full);
  assert.ok(fast.some((e) => e.name === 'usr/bin/.wh.suid'));
  assert.ok(fast.some((e) => e.name === '.wh.a'));
  assert.ok(fast.every((e) => !Object.keys(e.xattrs).some((k) => k.startsWith('trusted.overlay.'))));
});

test('a layer writer\'s fast path looks up only what it must, and directories held back without a lookup come out as with one', async (t) => {
  const o = overlay(t) as Overlay & { unmount(): void };
  const m = (rel: string) => path.join(o.merged, rel);
  fs.writeFileSync(m('etc/added'), 'added\n');
  fs.writeFileSync(m('etc/hostname'), 'changed\n');
  // A new directory with nothing in it, a directory whose only change is its mode,
  // and one copied up for a file made and deleted again (nothing to report).
  fs.mkdirSync(m('empty-new'));
  fs.chmodSync(m('var'), 0o750);
  fs.writeFileSync(m('usr/bin/temp'), 'x');
  fs.rmSync(m('usr/bin/temp'));
  fs.rmSync(m('usr/bin/suid'));
  const full = listEntries(await layerBytes(compareTrees(o.lower, o.merged)));
  o.unmount();

  assert.deepEqual(listEntries(await fastLayer(o.upper, [o.lower])), full);
  const told = collectChanges(upperChanges(o.upper, [o.lower]));
  const untold = collectChanges(upperChanges(o.upper, [o.lower], { distinguishAdditions: false }));
  assert.deepEqual(untold.map(([, p]) => p), told.map(([, p]) => p));
  assert.ok(told.some(([kind, p]) => kind === 'add' && p === 'etc/added'));
  assert.ok(untold.some(([kind, p]) => kind === 'modify' && p === 'etc/added'));
  // Looked up once nothing below it changed: a new directory is still an addition.
  assert.ok(untold.some(([kind, p]) => kind === 'add' && p === 'empty-new'));
  assert.ok(untold.some(([kind, p]) => kind === 'modify' && p === 'var'));
  assert.ok(untold.some(([kind, p]) => kind === 'delete' && p === 'usr/bin/suid'));
});

test('an opaque directory becomes .wh..wh..opq and both apply modes reproduce the merged view', async (t) => {
  const o = overlay(t) as Overlay & { unmount(): void };
  fs.rmSync(path.join(o.merged, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(o.merged, 'etc'));
  fs.writeFileSync(path.join(o.merged, 'etc/only'), 'only');
  fs.rmSync(path.join(o.merged, 'fifo'));
  const merged = describeTree(o.merged, { links: false });
  o.unmount();

  const tar = await fastLayer(o.upper, [o.lower]);
  const names = (listEntries(tar)).map((e) => e.name);
  // A whiteout sits where the deleted path sorts, as in containerd.
  assert.deepEqual(names, ['etc/', 'etc/.wh..wh..opq', 'etc/only', '.wh.fifo']);

  // (a) a plain directory holding the lower content
  const dir = tempDir(t);
  const copy = path.join(dir, 'copy');
  sh('cp', ['-a', o.lower, copy]);
  await applyLayer(Readable.from([tar]), copy, { mode: 'directory' });
  assert.deepEqual(describeTree(copy, { links: false }), merged);

  // (b) a fresh upper dir, written without mounting, then mounted over the same lower
  const o2 = { upper: path.join(dir, 'u2'), work: path.join(dir, 'w2'), merged: path.join(dir, 'm2') };
  Object.values(o2).forEach((d) => fs.mkdirSync(d));
  const lowerBefore = describeTree(o.lower);
  await applyLayer(Readable.from([tar]), o2.upper, { mode: 'overlay-upper' });
  assert.deepEqual(describeTree(o.lower), lowerBefore, 'lower content untouched');
  const upperView = describeTree(o2.upper);
  assert.equal(upperView['fifo'].type, 'char');
  assert.equal(upperView['fifo'].device, JSON.stringify({ major: 0, minor: 0 }));
  assert.equal(upperView['etc'].xattrs['trusted.overlay.opaque'], Buffer.from('y').toString('hex'));
  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${o.lower},upperdir=${o2.upper},workdir=${o2.work}`, o2.merged]);
  try {
    assert.deepEqual(describeTree(o2.merged, { links: false }), merged);
  } finally {
    sh('umount', [o2.merged]);
  }
});

test('with userxattr, user.overlay.opaque is read as the opaque marker and written back, and never leaks into the layer', async (t) => {
  // The option containerd's overlayfs adds in a user namespace; the kernel takes it in the initial one too.
  const o = overlay(t, undefined, ',userxattr') as Overlay & { unmount(): void };
  fs.rmSync(path.join(o.merged, 'etc'), { recursive: true });
  fs.mkdirSync(path.join(o.merged, 'etc'));
  fs.writeFileSync(path.join(o.merged, 'etc/only'), 'only');
  const merged = describeTree(o.merged, { links: false });
  o.unmount();
  assert.equal((describeTree(o.upper))['etc'].xattrs['user.overlay.opaque'], Buffer.from('y').toString('hex'));

  const tar = await fastLayer(o.upper, [o.lower], { userxattr: true });
  const entries = listEntries(tar);
  assert.deepEqual(entries.map((e) => e.name), ['etc/', 'etc/.wh..wh..opq', 'etc/only']);
  assert.ok(entries.every((e) => !Object.keys(e.xattrs).some((k) => k.startsWith('user.overlay.'))), 'overlay bookkeeping stays out of the layer');

  const dir = tempDir(t);
  const o2 = { upper: path.join(dir, 'u2'), work: path.join(dir, 'w2'), merged: path.join(dir, 'm2') };
  Object.values(o2).forEach((d) => fs.mkdirSync(d));
  await applyLayer(Readable.from([tar]), o2.upper, { mode: 'overlay-upper', userxattr: true });
  const upperView = describeTree(o2.upper);
  assert.equal(upperView['etc'].xattrs['user.overlay.opaque'], Buffer.from('y').toString('hex'));
  assert.equal(upperView['etc'].xattrs['trusted.overlay.opaque'], undefined);
  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${o.lower},upperdir=${o2.upper},workdir=${o2.work},userxattr`, o2.merged]);
  try {
    assert.deepEqual(describeTree(o2.merged, { links: false }), merged);
  } finally {
    sh('umount', [o2.merged]);
  }
});

test('whiteouts of paths no lower layer has are dropped; a multi-layer lower chain is honoured', async (t) => {
  const dir = tempDir(t);
  const [l1, l2] = [path.join(dir, 'l1'), path.join(dir, 'l2')];
  fs.mkdirSync(l1);
  fs.mkdirSync(l2);
  fs.writeFileSync(path.join(l1, 'bottom'), 'b');
  fs.writeFileSync(path.join(l2, 'top'), 't');
  const o = overlay(t, [l2, l1]) as Overlay & { unmount(): void };
  fs.rmSync(path.join(o.merged, 'bottom'));
  fs.writeFileSync(path.join(o.merged, 'temp'), '');
  fs.rmSync(path.join(o.merged, 'temp'));
  o.unmount();
  const entries = listEntries(await fastLayer(o.upper, [l2, l1]));
  assert.deepEqual(entries.map((e) => e.name), ['.wh.bottom']);
});

test('in an overlay upper dir, a directory the layer implies takes its mode, owner and mtime from the lower layers', async (t) => {
  const dir = tempDir(t, 'implied');
  const lower = path.join(dir, 'l');
  const upper = path.join(dir, 'u');
  const work = path.join(dir, 'w');
  const merged = path.join(dir, 'm');
  [lower, upper, work, merged].forEach((d) => fs.mkdirSync(d));
  fs.mkdirSync(path.join(lower, 'srv'), { mode: 0o750 });
  fs.chownSync(path.join(lower, 'srv'), 5, 6);
  fs.utimesSync(path.join(lower, 'srv'), 1_500_000_000, 1_500_000_000);
  fs.mkdirSync(path.join(lower, 'deep/a/b'), { recursive: true });
  fs.chmodSync(path.join(lower, 'deep/a/b'), 0o711);
  fs.symlinkSync('srv', path.join(lower, 'lnk'));

  // Only files: their parent directories are implied.
  const layer = Buffer.concat([
    ...['srv/new.txt', 'deep/a/b/c.txt', 'lnk/f', 'fresh/g'].flatMap((name) => [
      encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size: 1, mtimeNs: 0n, linkname: '', devMajor: 0, devMinor: 0, xattrs: new Map() }),
      Buffer.from('x'),
      padding(1),
    ]),
    Buffer.alloc(1024),
  ]);
  await applyLayer(Readable.from([layer]), upper, { mode: 'overlay-upper', lowerDirs: [lower] });

  const srv = fs.lstatSync(path.join(upper, 'srv'));
  assert.deepEqual([srv.mode & 0o7777, srv.uid, srv.gid, srv.mtimeMs], [0o750, 5, 6, 1_500_000_000_000]);
  assert.equal(fs.lstatSync(path.join(upper, 'deep/a/b')).mode & 0o7777, 0o711);
  // A lower symlink is not a directory to inherit from (it is replaced), and a path no layer has stays 0755 root.
  for (const name of ['lnk', 'fresh']) {
    const st = fs.lstatSync(path.join(upper, name));
    assert.ok(st.isDirectory());
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid], [0o755, 0, 0], name);
  }

  sh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, merged]);
  try {
    const seen = fs.lstatSync(path.join(merged, 'srv'));
    assert.deepEqual([seen.mode & 0o7777, seen.uid, seen.gid], [0o750, 5, 6], 'the merged view keeps the lower directory\'s metadata');
    assert.equal(fs.readFileSync(path.join(merged, 'srv/new.txt'), 'utf8'), 'x');
  } finally {
    sh('umount', [merged]);
  }
});
