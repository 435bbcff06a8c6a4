/**
 * Path rules shared by the reader, the writer and the tree walkers: entry
 * names are '/'-separated paths relative to a root, never escaping it.
 */
import { UnsafeEntryError } from './errors';

/**
 * Turns a tar entry name into a clean relative path ('' for the root).
 * A leading '/' is stripped as containerd does (it joins every name onto
 * the root); '..' is rejected outright instead of being clamped, so a layer
 * that tries to climb out is reported rather than silently rewritten.
 */
export function normalizeEntryName(name: string): string {
  if (name.includes('\0')) throw new UnsafeEntryError(name, 'name contains a NUL byte');
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') throw new UnsafeEntryError(name, "path contains '..'");
    parts.push(part);
  }
  return parts.join('/');
}

export function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

export function baseName(rel: string): string {
  return rel.slice(rel.lastIndexOf('/') + 1);
}

export function joinRel(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** Whether `rel` is `dir` itself or lies below it. */
export function isWithin(rel: string, dir: string): boolean {
  return dir === '' || rel === dir || rel.startsWith(`${dir}/`);
}

/**
 * containerd's path order (continuity `directoryCompare`): bytewise, with
 * '/' sorting before every other byte, which is the order of a depth-first
 * walk visiting each directory's names in byte order.
 */
export function comparePaths(a: string, b: string): number {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const c1 = x[i] === 0x2f ? 0 : x[i];
    const c2 = y[i] === 0x2f ? 0 : y[i];
    if (c1 !== c2) return c1 - c2;
  }
  return x.length - y.length;
}

/** Byte order of names within one directory. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
