import { createHash } from 'node:crypto';
import path from 'node:path';
import { invalidArgument } from '../../snapshots/errors';

/**
 * Where a root's short-link dir is reachable by a path of fixed, short
 * length, whatever the root's own length (see OverlayLayout.linksAnchor).
 */
const LINK_ANCHORS_DIR = '/run/strata';

/** Beside `fs` in a snapshot's dir: Apply wrote stubs there, and which objects they name (see ApplyOptions.objects). */
const STUB_MARKER = 'stubs';
const OBJECT_MANIFEST = 'objects';

/**
 * Where the overlay backend keeps its files, as containerd's overlayfs
 * snapshotter: `<root>/snapshots/<id>/fs` (the upper dir, later a lower dir)
 * and `<root>/snapshots/<id>/work` (overlay's work dir, actives only).
 * Any other entry of `snapshots/` is storage being built or being reclaimed.
 *
 * Object-store mode adds `<root>/objects` (the content store, a data-only
 * lower layer), `<root>/l/<id>` (links to layer dirs) and `<root>/empty`
 * (the lower dir of a snapshot without parents).
 */
export class OverlayLayout {
  readonly snapshotsDir: string;
  readonly objectsDir: string;
  readonly linksDir: string;
  /**
   * `/run/strata/<8 hex of the root>`, a symlink to `linksDir`: lowerdir=
   * names layers through it, so 128 of them fit in the page of mount
   * options whatever the root's length. containerd's own fallback for long
   * options (paths relative to a common parent) gives up on the `::` of a
   * data-only layer.
   */
  readonly linksAnchor: string;
  readonly emptyDir: string;
  /** What start-up's overlay probes found in this boot (probe-cache.ts). */
  readonly probeFile: string;

  constructor(root: string) {
    if (!path.isAbsolute(root)) throw invalidArgument(`overlay root must be an absolute path, got ${JSON.stringify(root)}`);
    this.snapshotsDir = path.join(root, 'snapshots');
    this.objectsDir = path.join(root, 'objects');
    this.linksDir = path.join(root, 'l');
    this.linksAnchor = path.join(LINK_ANCHORS_DIR, createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 8));
    this.emptyDir = path.join(root, 'empty');
    this.probeFile = path.join(root, 'overlay-probe.json');
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

  /** A layer dir's link in `linksDir`. */
  link(id: string): string {
    return path.join(this.linksDir, requireId(id));
  }

  /** The short path of a layer dir, through `linksAnchor`, for lowerdir= in object-store mode. */
  shortLink(id: string): string {
    return path.join(this.linksAnchor, requireId(id));
  }

  stubMarker(id: string): string {
    return path.join(this.snapshotsDir, requireId(id), STUB_MARKER);
  }

  objectManifest(id: string): string {
    return path.join(this.snapshotsDir, requireId(id), OBJECT_MANIFEST);
  }

  /** The stub marker and object manifest of the snapshot whose upper dir is `upperDir`. */
  static objectFilesOfUpper(upperDir: string): { marker: string; manifest: string } {
    const dir = path.dirname(upperDir);
    return { marker: path.join(dir, STUB_MARKER), manifest: path.join(dir, OBJECT_MANIFEST) };
  }
}

/**
 * Ids are numeric, so they can never collide with the temporary names
 * (`new-…`, `trash-…`) and never escape `snapshots/`.
 */
export function isId(name: string): boolean {
  return /^[0-9]+$/.test(name);
}

export function requireId(id: string): string {
  if (!isId(id)) throw invalidArgument(`invalid snapshot storage id ${JSON.stringify(id)}: must be numeric`);
  return id;
}
