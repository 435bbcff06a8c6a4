/** Real trees on disk for the changeset tests, and a field-by-field description of a tree. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readTreeXattrs } from '../../src/changeset/xattrs';
import { walkTree, splitDevice } from '../../src/changeset/file-info';

export function tempDir(t: { after(fn: () => void): void }, name = 'cs'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const CAP_NET_RAW = Buffer.from('0100000200200000000000000000000000000000', 'hex');

/** Sets mtime with nanoseconds via touch(1); Node's utimes only has double precision. */
export function touchNs(file: string, sec: number, ns: number): void {
  sh('touch', ['-h', '-d', `@${sec}.${String(ns).padStart(9, '0')}`, file]);
}

/** A tree with every entry type, odd modes, owners, xattrs and nanosecond mtimes. */
export function makeRichTree(root: string): void {
  const p = (rel: string) => path.join(root, rel);
  fs.mkdirSync(p('etc/conf.d'), { recursive: true });
  fs.mkdirSync(p('usr/bin'), { recursive: true });
  fs.mkdirSync(p('tmp'));
  fs.mkdirSync(p('var/lib/empty'), { recursive: true });
  fs.writeFileSync(p('etc/hostname'), 'strata\n');
  fs.writeFileSync(p('etc/conf.d/a.conf'), 'x'.repeat(5000));
  fs.writeFileSync(p('usr/bin/big'), Buffer.alloc(3 << 20, 7)); // larger than the buffered-file limit
  fs.writeFileSync(p('usr/bin/ping'), 'ELF');
  fs.writeFileSync(p('usr/bin/suid'), '#!/bin/sh\n');
  fs.writeFileSync(p('empty'), '');
  fs.writeFileSync(p('a.txt'), 'sorts after a/');
  fs.mkdirSync(p('a'));
  fs.writeFileSync(p('a/b'), 'b');
  fs.writeFileSync(p('long-' + 'n'.repeat(150)), 'long name');
  fs.mkdirSync(p('deep/' + 'd'.repeat(90) + '/' + 'e'.repeat(90)), { recursive: true });
  fs.writeFileSync(p('deep/' + 'd'.repeat(90) + '/' + 'e'.repeat(90) + '/f'), 'deep');
  fs.writeFileSync(p('ünïcode'), 'utf8 name');
  fs.chmodSync(p('usr/bin/suid'), 0o4755);
  fs.chmodSync(p('tmp'), 0o1777);
  fs.chmodSync(p('var/lib/empty'), 0o2750);
  fs.chmodSync(p('etc/hostname'), 0o600);
  fs.chownSync(p('etc/hostname'), 1000, 1001);
  fs.chownSync(p('var/lib/empty'), 0, 42);
  fs.symlinkSync('../etc/hostname', p('usr/hostname-link'));
  fs.symlinkSync('/does/not/exist', p('dangling'));
  fs.lchownSync(p('dangling'), 7, 8);
  fs.linkSync(p('etc/conf.d/a.conf'), p('usr/a-hardlink'));
  fs.linkSync(p('etc/conf.d/a.conf'), p('var/a-hardlink2'));
  sh('mknod', ['-m', '0620', p('tty0'), 'c', '4', '0']);
  sh('mknod', ['-m', '0660', p('loopx'), 'b', '7', '200']);
  sh('mknod', ['-m', '0644', p('fifo'), 'p']);
  sh('setfattr', ['-n', 'user.comment', '-v', 'hello', p('etc/hostname')]);
  sh('setfattr', ['-n', 'trusted.bin', '-v', '0x00ff10', p('etc/hostname')]);
  sh('setfattr', ['-n', 'security.capability', '-v', `0x${CAP_NET_RAW.toString('hex')}`, p('usr/bin/ping')]);
  sh('setfattr', ['-n', 'user.dir', '-v', 'd', p('etc/conf.d')]);
  sh('setfattr', ['-h', '-n', 'trusted.link', '-v', 'l', p('dangling')]);
  for (const [i, rel] of ['etc/hostname', 'usr/bin/ping', 'a/b', 'dangling', 'fifo', 'tty0', 'etc/conf.d', 'etc', 'a'].entries()) {
    touchNs(p(rel), 1_600_000_000 + i * 1000, 0);
  }
}

export interface EntryDescription {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  mtimeSec: bigint;
  target?: string;
  device?: string;
  content?: string;
  xattrs: Record<string, string>;
  nlink: number;
}

/** Every object under root with all its fields; mtimes at tar's resolution (seconds). */
/** `links: false` leaves out link counts: an overlay mount reports the lower inode's count. */
export function describeTree(root: string, opts: { dirMtimes?: boolean; links?: boolean } = {}): Record<string, EntryDescription> {
  const xattrs = readTreeXattrs(root);
  const out: Record<string, EntryDescription> = {};
  for (const e of walkTree(root)) {
    const s = e.stat;
    const type = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : s.isCharacterDevice() ? 'char' : s.isBlockDevice() ? 'block' : s.isFIFO() ? 'fifo' : 'other';
    const d: EntryDescription = {
      type,
      mode: (Number(s.mode) & 0o7777).toString(8),
      uid: Number(s.uid),
      gid: Number(s.gid),
      mtimeSec: type === 'dir' && !opts.dirMtimes ? 0n : s.mtimeNs / 1_000_000_000n,
      xattrs: Object.fromEntries([...(xattrs.get(e.abs) ?? [])].map(([k, v]) => [k, v.toString('hex')])),
      nlink: type === 'dir' || opts.links === false ? 0 : Number(s.nlink),
    };
    if (type === 'symlink') d.target = fs.readlinkSync(e.abs);
    if (type === 'char' || type === 'block') d.device = JSON.stringify(splitDevice(s.rdev));
    if (type === 'file') d.content = createHash('sha256').update(fs.readFileSync(e.abs)).digest('hex');
    out[e.path] = d;
  }
  return out;
}
