import path from 'node:path';
import { invalidArgument } from '../../snapshots/errors';

/** Beside `fs` in a snapshot's dir: Apply wrote stubs there (see ApplyOptions.objects). */
const STUB_MARKER = 'stubs';

/**
 * Where the overlay backend keeps its files, as containerd's overlayfs
 * snapshotter: `<root>/snapshots/<id>/fs` (the upper dir, later a lower dir)
 * and `<root>/snapshots/<id>/work` (overlay's work dir, actives only).
 * Any other entry of `snapshots/` is storage being built or being reclaimed.
 *
 * Object-store mode adds `<root>/objects` (the content store, a data-only
 * lower layer), `<root>/l/<id>` (short links to layer dirs, so 128 layers
 * and the store fit in a page of mount options) and `<root>/empty` (the
 * lower dir of a snapshot without parents).
 */
export class OverlayLayout {
  readonly snapshotsDir: string;
  readonly objectsDir: string;
  readonly linksDir: string;
  readonly emptyDir: string;

  constructor(root: string) {
    if (!path.isAbsolute(root)) throw invalidArgument(`overlay root must be an absolute path, got ${JSON.stringify(root)}`);
    this.snapshotsDir = path.join(root, 'snapshots');
    this.objectsDir = path.join(root, 'objects');
    this.linksDir = path.join(root, 'l');
    this.emptyDir = path.join(root, 'empty');
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

  /** The short path of a layer dir, for lowerdir= in object-store mode. */
  shortLink(id: string): string {
    return path.join(this.linksDir, requireId(id));
  }

  stubMarker(id: string): string {
    return path.join(this.snapshotsDir, requireId(id), STUB_MARKER);
  }

  /** The stub marker of the snapshot whose upper dir is `upperDir`. */
  static stubMarkerOfUpper(upperDir: string): string {
    return path.join(path.dirname(upperDir), STUB_MARKER);
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
