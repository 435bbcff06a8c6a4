import path from 'node:path';
import { invalidArgument } from '../../snapshots/errors';

/**
 * Where the overlay backend keeps its files, as containerd's overlayfs
 * snapshotter: `<root>/snapshots/<id>/fs` (the upper dir, later a lower dir)
 * and `<root>/snapshots/<id>/work` (overlay's work dir, actives only).
 * Any other entry of `snapshots/` is storage being built or being reclaimed.
 */
export class OverlayLayout {
  readonly snapshotsDir: string;

  constructor(root: string) {
    if (!path.isAbsolute(root)) throw invalidArgument(`overlay root must be an absolute path, got ${JSON.stringify(root)}`);
    this.snapshotsDir = path.join(root, 'snapshots');
  }

  /** An entry of `snapshots/`: a snapshot id or a temporary name. */
  entryPath(name: string): string {
    return path.join(this.snapshotsDir, name);
  }

  fsDir(id: string): string {
    return path.join(this.snapshotsDir, requireId(id), 'fs');
  }

  workDir(id: string): string {
    return path.join(this.snapshotsDir, requireId(id), 'work');
  }
}

/**
 * Ids are numeric, so they can never collide with the temporary names
 * (`new-…`, `trash-…`) and never escape `snapshots/`.
 */
export function requireId(id: string): string {
  if (!/^[0-9]+$/.test(id)) throw invalidArgument(`invalid snapshot storage id ${JSON.stringify(id)}: must be numeric`);
  return id;
}
