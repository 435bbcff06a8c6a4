import path from 'node:path';
import { OverlayLayout } from '../backends/overlay/layout';
import { applyLayer, type ApplyResult } from '../changeset';
import { isInside } from '../fsutil/paths';
import { withMounts } from '../mount';
import { objectWritersGate } from '../objects/writers-gate';
import { invalidArgument } from '../snapshots/errors';
import type { Mount } from '../snapshots/types';
import { bindDir, overlayDirs } from './mount-shapes';

export interface ApplyTargetOptions {
  /** strata's root: overlays whose upper dir lives in its storage are written without a mount. */
  strataRoot?: string;
  /** The layer blob's digest, checked by the caller (see ApplyOptions.streamDigest). */
  blobDigest?: string;
  /** See ApplyOptions.entriesStarted. */
  entriesStarted?: Int32Array;
  /**
   * Write regular files of an object-store snapshot as stubs over the store
   * (see ApplyOptions.objects). Only the server does: Cleanup's collection
   * of unused objects is fenced from its writers by a lock in its process.
   * Files written without it are moved into the store at Commit.
   */
  writeObjects?: boolean;
}

/**
 * Applies a layer stream to the snapshot `mounts` describe, the cheapest
 * safe way: strata's own overlay gets the layer written straight into its
 * upper dir in overlay format (no mount, lower layers untouched); a bind
 * mount gets it in its source directory; anything else is mounted and
 * written through the mount.
 */
export async function applyToMounts(layer: AsyncIterable<Buffer>, mounts: Mount[], opts: ApplyTargetOptions = {}): Promise<ApplyResult> {
  if (mounts.length === 0) throw invalidArgument('apply needs the mounts of the target snapshot, got none');
  const overlay = overlayDirs(mounts);
  const layout = opts.strataRoot === undefined ? undefined : new OverlayLayout(path.resolve(opts.strataRoot));
  const common = { streamDigest: opts.blobDigest, entriesStarted: opts.entriesStarted };
  const inStorage = (dir: string) => layout !== undefined && isInside(dir, layout.snapshotsDir);
  if (overlay?.upperDir !== undefined && layout !== undefined && inStorage(overlay.upperDir)) {
    const upperDir = overlay.upperDir;
    const upper = { ...common, mode: 'overlay-upper' as const, userxattr: overlay.userxattr, lowerDirs: overlay.lowerDirs, escapeOverlayXattrs: true };
    const { objectsDir } = layout;
    if (!opts.writeObjects || overlay.dataDirs.length !== 1 || path.resolve(overlay.dataDirs[0]) !== objectsDir) {
      return applyLayer(layer, upperDir, upper);
    }
    const objects = { dir: objectsDir, ...OverlayLayout.objectFilesOfUpper(upperDir) };
    return objectWritersGate(objectsDir).shared(() => applyLayer(layer, upperDir, { ...upper, objects }));
  }
  if (overlay && overlay.upperDir === undefined) throw invalidArgument('cannot apply a layer to a read-only overlay (it has no upperdir)');
  const bind = bindDir(mounts);
  if (bind?.readOnly) throw invalidArgument(`cannot apply a layer to a read-only bind mount of ${bind.source}`);
  if (bind) return applyLayer(layer, bind.source, { ...common, mode: 'directory', escapeOverlayXattrs: inStorage(bind.source) });
  return withMounts(mounts, (dir) => applyLayer(layer, dir, { ...common, mode: 'directory' }));
}
