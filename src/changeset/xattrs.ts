/**
 * Extended attributes through @napi-rs/xattr (Node has no xattr API). Its
 * calls act on a symlink itself, never its target (l*xattr), as tar and
 * overlayfs need, and carry values as bytes (names as UTF-8 strings, like
 * the PAX records they come from). The server needs no `attr` tools.
 */
import fs from 'node:fs';
import path from 'node:path';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import type { Xattrs } from './file-info';

/** Files that carry xattrs, keyed by absolute path. */
export type TreeXattrs = Map<string, Xattrs>;

/** The xattrs of one object, symlinks not followed; empty when it has none. */
function readXattrs(file: string): Xattrs {
  const xattrs: Xattrs = new Map();
  try {
    for (const name of listAttributesSync(file)) {
      // A value removed between list and get is gone: nothing to report.
      const value = getAttributeSync(file, name);
      if (value !== null) xattrs.set(name, value);
    }
  } catch (err) {
    throw bindingError(err, file);
  }
  return xattrs;
}

/** All xattrs of every object under `root` (root included), symlinks not followed. */
export function readTreeXattrs(root: string): TreeXattrs {
  const result: TreeXattrs = new Map();
  const record = (file: string) => {
    const xattrs = readXattrs(file);
    if (xattrs.size > 0) result.set(file, xattrs);
  };
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      record(file);
      if (entry.isDirectory()) visit(file);
    }
  };
  record(root);
  if (fs.lstatSync(root).isDirectory()) visit(root);
  return result;
}

/** Sets xattrs on many objects (absolute paths); symlinks are not followed. */
export function writeXattrs(targets: Iterable<[string, Xattrs]>): void {
  for (const [file, xattrs] of targets) {
    for (const [name, value] of xattrs) {
      try {
        setAttributeSync(file, name, value);
      } catch (err) {
        throw bindingError(err, file, name);
      }
    }
  }
}

/** The namespaces overlayfs keeps its own markers in (the second with `userxattr`). */
const OVERLAY_NAMESPACES = ['trusted.overlay.', 'user.overlay.'];

/**
 * `xattrs` as overlayfs (Linux 6.7+) stores them when they are set through a
 * mount: a name in one of its namespaces gets the namespace doubled
 * (`trusted.overlay.X` -> `trusted.overlay.overlay.X`), which the kernel
 * shows back as `trusted.overlay.X` and never acts on.
 */
export function escapeOverlayXattrs(xattrs: Xattrs): Xattrs {
  const escaped: Xattrs = new Map();
  for (const [name, value] of xattrs) {
    const namespace = OVERLAY_NAMESPACES.find((prefix) => name.startsWith(prefix));
    escaped.set(namespace === undefined ? name : `${namespace}overlay.${name.slice(namespace.length)}`, value);
  }
  return escaped;
}

/** The binding's errors name neither the file nor the attribute. */
function bindingError(err: unknown, file: string, name?: string): Error {
  const what = name === undefined ? 'xattrs' : `xattr ${name}`;
  return new Error(`${what} of ${file}: ${err instanceof Error ? err.message : String(err)}`);
}
