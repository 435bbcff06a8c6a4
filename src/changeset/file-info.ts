/** What the changeset code knows about one file system object. */
import { promises as fsp, type BigIntStats } from 'node:fs';
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

export async function statInfo(sourcePath: string, st?: BigIntStats, xattrs?: Xattrs): Promise<FileInfo> {
  const s = st ?? (await fsp.lstat(sourcePath, { bigint: true }));
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
    linkTarget: type === 'symlink' ? await fsp.readlink(sourcePath) : '',
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

/** One directory's entries, sorted as the walk reports them, with their lstat. */
interface Listing {
  names: string[];
  stats: BigIntStats[];
}

async function readListing(root: string, dir: string): Promise<Listing> {
  const names = (await fsp.readdir(path.join(root, dir))).sort(compareNames);
  // lstat a whole directory at once: the calls overlap in libuv's pool.
  const stats = await Promise.all(names.map((n) => fsp.lstat(path.join(root, dir, n), { bigint: true })));
  return { names, stats };
}

/**
 * Directories listed ahead of the walk. On a cold cache each listing waits
 * for the disk, and one after another they made most of a walk: of the
 * minbase rootfs (6,800 entries) 479 ms, against 350 ms listing ahead
 * (medians of 8 alternating runs, page cache dropped).
 */
const DIRS_AHEAD = 16;

/**
 * Depth-first walk in containerd's order (names sorted bytewise in each
 * directory, children right after their directory); the root is not
 * reported. `enter` may veto descending into a directory; it is asked when
 * the walk gets there. Up to DIRS_AHEAD subdirectories are listed ahead,
 * which a veto leaves unused.
 */
export async function* walkTree(root: string, enter: (entry: WalkedPath) => boolean = () => true): AsyncGenerator<WalkedPath> {
  const ahead = new Map<string, Promise<Listing>>();
  const listing = (dir: string): Promise<Listing> => {
    const read = ahead.get(dir);
    ahead.delete(dir);
    return read ?? readListing(root, dir);
  };
  async function* walk(dir: string): AsyncGenerator<WalkedPath> {
    const { names, stats } = await listing(dir);
    const subdirs = names.filter((_, i) => stats[i].isDirectory()).map((name) => joinRel(dir, name));
    let listed = 0;
    // Called again after each subdirectory's walk: the deepest directory
    // being walked lists its own next subdirectories first, as the walk
    // visits them first.
    const listAhead = () => {
      for (; listed < subdirs.length && ahead.size < DIRS_AHEAD; listed++) {
        const read = readListing(root, subdirs[listed]);
        // Its error, if any, is the walk's when it gets there; unused, it is nobody's.
        read.catch(() => undefined);
        ahead.set(subdirs[listed], read);
      }
    };
    listAhead();
    for (let i = 0, subdir = 0; i < names.length; i++) {
      const rel = joinRel(dir, names[i]);
      const entry = { path: rel, abs: path.join(root, rel), stat: stats[i] };
      yield entry;
      if (!stats[i].isDirectory()) continue;
      // Reached: never to be listed ahead any more.
      listed = Math.max(listed, ++subdir);
      if (enter(entry)) yield* walk(rel);
      else ahead.delete(rel);
      listAhead();
    }
  }
  yield* walk('');
}
