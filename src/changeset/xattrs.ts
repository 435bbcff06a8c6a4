/**
 * Extended attributes through @napi-rs/xattr (Node has no xattr API). Its
 * calls act on a symlink itself, never its target (l*xattr), as tar and
 * overlayfs need, and take names and values as bytes. The server needs no
 * `attr` tools for them.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { getAttribute, listAttributes, setAttributeSync } from '@napi-rs/xattr';
import type { Xattrs } from './file-info';

/** Files that carry xattrs, keyed by absolute path. */
export type TreeXattrs = Map<string, Xattrs>;

/** The xattrs of one object, symlinks not followed; empty when it has none. */
async function readXattrs(file: string): Promise<Xattrs> {
  const xattrs: Xattrs = new Map();
  for (const name of await listAttributes(file).catch(rethrowFor(file))) {
    // A value removed between list and get is gone: nothing to report.
    const value = await getAttribute(file, name).catch(rethrowFor(file, name));
    if (value !== null) xattrs.set(name, value);
  }
  return xattrs;
}

/**
 * All xattrs of every object under `root` (root included), symlinks not
 * followed. A directory's entries are read at once: the calls overlap in
 * libuv's pool.
 */
export async function readTreeXattrs(root: string): Promise<TreeXattrs> {
  const result: TreeXattrs = new Map();
  const visit = async (file: string, isDirectory: boolean): Promise<void> => {
    const xattrs = await readXattrs(file);
    if (xattrs.size > 0) result.set(file, xattrs);
    if (!isDirectory) return;
    const entries = await fsp.readdir(file, { withFileTypes: true });
    await Promise.all(entries.map((e) => visit(path.join(file, e.name), e.isDirectory())));
  };
  await visit(root, (await fsp.lstat(root)).isDirectory());
  return result;
}

/**
 * Sets xattrs on many objects (absolute paths); symlinks are not followed.
 * Synchronous: its caller is the apply worker, which blocks on its system
 * calls anyway.
 */
export function writeXattrs(targets: Iterable<[string, Xattrs]>): void {
  for (const [file, xattrs] of targets) {
    for (const [name, value] of xattrs) {
      try {
        setAttributeSync(file, name, value);
      } catch (err) {
        rethrowFor(file, name)(err);
      }
    }
  }
}

/** The binding's errors name neither the file nor the attribute. */
function rethrowFor(file: string, name?: string): (err: unknown) => never {
  return (err) => {
    const what = name === undefined ? 'xattrs' : `xattr ${name}`;
    throw new Error(`${what} of ${file}: ${err instanceof Error ? err.message : String(err)}`);
  };
}
