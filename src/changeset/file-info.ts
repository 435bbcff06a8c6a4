/** What the changeset code knows about one file system object. */
import fs, { type BigIntStats } from 'node:fs';
import path from 'node:path';
import { compareNames, joinRel } from './paths';

export type FileType = 'file' | 'directory' | 'symlink' | 'char-device' | 'block-device' | 'fifo' | 'socket';

export type Xattrs = Map<string, Buffer>;

export interface FileInfo {
  type: FileType;
  /** Permission bits including setuid, setgid and sticky (07777). */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  /** Symlink target; '' for other types. */
  linkTarget: string;
  devMajor: number;
  devMinor: number;
  /** Identity of the inode, for hard link detection. */
  inode: string;
  nlink: number;
  xattrs: Xattrs;
  /** Absolute path to read the link target and xattrs from. */
  sourcePath: string;
  /**
   * Absolute path to read a regular file's bytes from: sourcePath, except
   * for a metadata-only file whose data lives in another file (an overlay
   * object store's stub).
   */
  contentPath: string;
}

const S_IFMT = 0o170000;

function typeOf(mode: number): FileType {
  switch (mode & S_IFMT) {
    case 0o100000: return 'file';
    case 0o040000: return 'directory';
    case 0o120000: return 'symlink';
    case 0o020000: return 'char-device';
    case 0o060000: return 'block-device';
    case 0o010000: return 'fifo';
    case 0o140000: return 'socket';
  }
  throw new Error(`unknown file type in mode ${mode.toString(8)}`);
}

/** Linux's dev_t layout (glibc gnu_dev_major/minor). */
export function splitDevice(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  return { major: Number(major), minor: Number(minor) };
}

export function statInfo(sourcePath: string, st?: BigIntStats, xattrs?: Xattrs): FileInfo {
  const s = st ?? fs.lstatSync(sourcePath, { bigint: true });
  const mode = Number(s.mode);
  const type = typeOf(mode);
  const { major, minor } = splitDevice(s.rdev);
  const device = type === 'char-device' || type === 'block-device';
  return {
    type,
    mode: mode & 0o7777,
    uid: Number(s.uid),
    gid: Number(s.gid),
    size: type === 'file' ? Number(s.size) : 0,
    mtimeNs: s.mtimeNs,
    linkTarget: type === 'symlink' ? fs.readlinkSync(sourcePath) : '',
    devMajor: device ? major : 0,
    devMinor: device ? minor : 0,
    inode: `${s.dev}:${s.ino}`,
    nlink: Number(s.nlink),
    xattrs: xattrs ?? new Map(),
    sourcePath,
    contentPath: sourcePath,
  };
}

export interface WalkedPath {
  /** Relative to the walked root, '/'-separated, no leading '/'. */
  path: string;
  abs: string;
  stat: BigIntStats;
}

/**
 * Depth-first walk in containerd's order (names sorted bytewise in each
 * directory, children right after their directory); the root is not
 * reported. `enter` may veto descending into a directory; it is asked when
 * the walk gets there.
 *
 * Synchronous, for a thread of its own (see changeset-thread.ts): one
 * blocking call per entry costs far less than an event-loop round trip per
 * call, even on a cold cache. A cold walk of the minbase rootfs (6,800
 * entries) took 263-307 ms so, against 479-594 ms with promises and 16
 * directories listed ahead (2026-12-01, 2 cores).
 */
export function* walkTree(root: string, enter: (entry: WalkedPath) => boolean = () => true): Generator<WalkedPath> {
  function* walk(dir: string): Generator<WalkedPath> {
    for (const name of fs.readdirSync(path.join(root, dir)).sort(compareNames)) {
      const rel = joinRel(dir, name);
      const abs = path.join(root, rel);
      const entry = { path: rel, abs, stat: fs.lstatSync(abs, { bigint: true }) };
      yield entry;
      if (entry.stat.isDirectory() && enter(entry)) yield* walk(rel);
    }
  }
  yield* walk('');
}
