/**
 * The full comparison of two trees (continuity's double-walk Changes): walk
 * lower and upper together in path order and report what differs.
 */
import fs from 'node:fs';
import { withParents, type Change } from './change';
import { statInfo, walkTree, type FileInfo, type Xattrs } from './file-info';
import { comparePaths } from './paths';
import { readTreeXattrs } from './xattrs';

export function sameXattrs(a: Xattrs, b: Xattrs): boolean {
  if (a.size !== b.size) return false;
  for (const [name, value] of a) {
    const other = b.get(name);
    if (!other || !other.equals(value)) return false;
  }
  return true;
}

function sameContent(a: string, b: string): boolean {
  const fa = fs.openSync(a, 'r');
  try {
    const fb = fs.openSync(b, 'r');
    try {
      const size = 1 << 16;
      const [ba, bb] = [Buffer.alloc(size), Buffer.alloc(size)];
      for (;;) {
        const ra = fs.readSync(fa, ba, 0, size, null);
        const rb = fs.readSync(fb, bb, 0, size, null);
        if (ra !== rb || !ba.subarray(0, ra).equals(bb.subarray(0, rb))) return false;
        if (ra === 0) return true;
      }
    } finally {
      fs.closeSync(fb);
    }
  } finally {
    fs.closeSync(fa);
  }
}

const NS = 1_000_000_000n;

/**
 * continuity's sameFile, plus all xattrs (not only security.capability) and
 * directory mtimes. Timestamps with a zero nanosecond part may have been
 * truncated by a tar round trip, so then the content decides.
 */
export function sameFile(a: FileInfo, b: FileInfo): boolean {
  if (a.type !== b.type || a.mode !== b.mode || a.uid !== b.uid || a.gid !== b.gid) return false;
  if (a.devMajor !== b.devMajor || a.devMinor !== b.devMinor || a.linkTarget !== b.linkTarget) return false;
  if (!sameXattrs(a.xattrs, b.xattrs)) return false;
  if (a.type === 'directory') return a.mtimeNs === b.mtimeNs;
  if (a.size !== b.size || a.mtimeNs / NS !== b.mtimeNs / NS) return false;
  if (a.mtimeNs % NS === 0n && b.mtimeNs % NS === 0n) {
    return a.type !== 'file' || a.size === 0 || sameContent(a.contentPath, b.contentPath);
  }
  return a.mtimeNs === b.mtimeNs;
}

function* rawChanges(lower: string, upper: string, lowerXattrs: Map<string, Xattrs>, upperXattrs: Map<string, Xattrs>): Generator<Change> {
  // Below a deleted directory (or one replaced by a non-directory) every
  // deletion is implied, so the lower walk does not descend there.
  const gone = new Set<string>();
  const lowerWalk = walkTree(lower, (e) => !gone.has(e.path));
  const upperWalk = walkTree(upper);
  let l = lowerWalk.next();
  let u = upperWalk.next();
  while (!l.done || !u.done) {
    const order = l.done ? 1 : u.done ? -1 : comparePaths(l.value.path, u.value.path);
    if (order < 0 && !l.done) {
      if (l.value.stat.isDirectory()) gone.add(l.value.path);
      yield { kind: 'delete', path: l.value.path };
      l = lowerWalk.next();
    } else if (order > 0 && !u.done) {
      yield { kind: 'add', path: u.value.path, info: statInfo(u.value.abs, u.value.stat, upperXattrs.get(u.value.abs)) };
      u = upperWalk.next();
    } else if (!l.done && !u.done) {
      const a = statInfo(l.value.abs, l.value.stat, lowerXattrs.get(l.value.abs));
      const b = statInfo(u.value.abs, u.value.stat, upperXattrs.get(u.value.abs));
      if (a.type === 'directory' && b.type !== 'directory') gone.add(l.value.path);
      if (!sameFile(a, b)) yield { kind: 'modify', path: u.value.path, info: b };
      else if (b.nlink > 1 && b.type !== 'directory') yield { kind: 'unmodified', path: u.value.path, info: b };
      l = lowerWalk.next();
      u = upperWalk.next();
    }
  }
}

/**
 * Changes that turn `lower` into `upper`, in containerd's path order,
 * parents before children (see withParents). Reads both trees fully.
 */
export function* compareTrees(lower: string, upper: string): Generator<Change> {
  const lowerXattrs = readTreeXattrs(lower);
  const upperXattrs = readTreeXattrs(upper);
  yield* withParents(rawChanges(lower, upper, lowerXattrs, upperXattrs), upper, upperXattrs);
}
