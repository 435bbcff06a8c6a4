/** The change model shared by the tree comparers and the layer writer. */
import fs from 'node:fs';
import path from 'node:path';
import { statInfo, type FileInfo } from './file-info';
import { parentOf } from './paths';
import type { TreeXattrs } from './xattrs';

/**
 * - add, modify: write the object described by `info`.
 * - delete: the object at `path` (with everything below it) is gone.
 * - opaque: the directory at `path` hides everything lower layers had in it.
 * - unmodified: a hard-linked file that did not change; reported only so a
 *   writer can keep hard links to it intact (as containerd does).
 */
export type ChangeKind = 'add' | 'modify' | 'delete' | 'opaque' | 'unmodified';

export interface Change {
  kind: ChangeKind;
  /** Relative to the tree root, '/'-separated, no leading '/'. */
  path: string;
  /** The object in the changed tree; absent for delete and opaque. */
  info?: FileInfo;
}

/**
 * Makes a change stream applicable in order: before any change below a
 * directory that has not been reported yet, reports that directory as
 * modified (containerd's ChangeWriter.includeParents), so that its
 * metadata travels with the layer.
 */
export function* withParents(changes: Iterable<Change>, root: string, xattrs: TreeXattrs): Generator<Change> {
  const reported = new Set<string>(['']);
  function* ensure(dir: string): Generator<Change> {
    if (reported.has(dir)) return;
    yield* ensure(parentOf(dir));
    reported.add(dir);
    const abs = path.join(root, dir);
    yield { kind: 'modify', path: dir, info: statInfo(abs, fs.lstatSync(abs, { bigint: true }), xattrs.get(abs)) };
  }
  for (const change of changes) {
    // An opaque marker is an entry inside its directory.
    if (change.kind === 'opaque') yield* ensure(change.path);
    else if (change.kind !== 'unmodified') yield* ensure(parentOf(change.path));
    if (change.info?.type === 'directory') reported.add(change.path);
    yield change;
  }
}
