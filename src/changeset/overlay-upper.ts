/**
 * The overlay fast path: the changes of an overlay snapshot are exactly
 * what its upper directory holds, so only that directory is read (cost
 * grows with the change, not with the image). The kernel's markers are
 * translated: a 0/0 character device is a deletion, the opaque xattr an
 * opaque directory. The lower directories are only probed with lstat, to
 * tell additions from modifications and to drop whiteouts of paths no
 * lower layer has; those probes run ahead of the walk, many at a time,
 * since on a cold cache each one waits for the disk.
 */
import { promises as fsp, type BigIntStats } from 'node:fs';
import path from 'node:path';
import { unimplemented } from '../snapshots/errors';
import { withParents, type Change } from './change';
import { statInfo, walkTree, type WalkedPath } from './file-info';
import { Lookahead } from './lookahead';
import { readTreeXattrs, type TreeXattrs } from './xattrs';

export interface OverlayOptions {
  /** The overlay was mounted with `userxattr`: its xattrs are user.overlay.* instead of trusted.overlay.*. */
  userxattr?: boolean;
}

export function isWhiteout(st: BigIntStats): boolean {
  return st.isCharacterDevice() && st.rdev === 0n;
}

/**
 * The path as the lower chain shows it (top layer first), or undefined when
 * no layer has it or a whiteout hides it. Opaque directories inside the
 * lower layers are not consulted (that needs an xattr read per layer): at
 * worst a redundant whiteout is written, which deletes nothing.
 */
async function lowerStat(lowerDirs: string[], rel: string): Promise<BigIntStats | undefined> {
  for (const dir of lowerDirs) {
    try {
      const st = await fsp.lstat(path.join(dir, rel), { bigint: true });
      return isWhiteout(st) ? undefined : st;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
    }
  }
  return undefined;
}

/** How many upper entries are looked up in the lower layers ahead of the one being reported. */
const LOOKAHEAD = 32;

interface UpperEntry extends WalkedPath {
  lower?: BigIntStats;
}

async function* rawChanges(
  entries: AsyncIterable<UpperEntry>, xattrs: TreeXattrs, overlayXattrs: TreeXattrs, prefix: string,
): AsyncGenerator<Change> {
  for await (const entry of entries) {
    const { lower } = entry;
    if (isWhiteout(entry.stat)) {
      if (lower) yield { kind: 'delete', path: entry.path };
      continue;
    }
    const markers = overlayXattrs.get(entry.abs);
    if (markers?.has(`${prefix}redirect`) || markers?.has(`${prefix}metacopy`)) {
      throw unimplemented(`${entry.path}: overlay redirect_dir/metacopy upper directories are not supported by the fast path`);
    }
    const own = xattrs.get(entry.abs) ?? new Map<string, Buffer>();
    const info = await statInfo(entry.abs, entry.stat, own);
    const opaque = info.type === 'directory' && markers?.get(`${prefix}opaque`)?.toString() === 'y' && lower?.isDirectory() === true;
    if (info.type === 'directory' && lower?.isDirectory() && !opaque && own.size === 0 &&
        Number(lower.mode) === Number(entry.stat.mode) && lower.uid === entry.stat.uid && lower.gid === entry.stat.gid &&
        lower.mtimeNs === entry.stat.mtimeNs) {
      // Copied up only because something below it changed.
      continue;
    }
    yield { kind: lower ? 'modify' : 'add', path: entry.path, info };
    if (opaque) yield { kind: 'opaque', path: entry.path };
  }
}

/** Changes recorded in an overlay upper directory over `lowerDirs` (top layer first), in containerd's path order. */
export async function* overlayUpperChanges(upperDir: string, lowerDirs: string[], opts: OverlayOptions = {}): AsyncGenerator<Change> {
  const prefix = opts.userxattr ? 'user.overlay.' : 'trusted.overlay.';
  // The walk and its lower-layer lookups start now, while the xattrs are read.
  const entries = new Lookahead(walkTree(upperDir), async (entry): Promise<UpperEntry> => ({ ...entry, lower: await lowerStat(lowerDirs, entry.path) }), LOOKAHEAD);
  try {
    // Split the kernel's own xattrs (opaque, origin, impure, ...) from the files' own.
    const own: TreeXattrs = new Map();
    const overlay: TreeXattrs = new Map();
    for (const [file, all] of await readTreeXattrs(upperDir)) {
      own.set(file, new Map([...all].filter(([name]) => !name.startsWith(prefix))));
      overlay.set(file, new Map([...all].filter(([name]) => name.startsWith(prefix))));
    }
    yield* withParents(rawChanges(entries, own, overlay, prefix), upperDir, own);
  } finally {
    await entries.return();
  }
}
