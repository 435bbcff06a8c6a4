import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compareTrees, overlayUpperChanges, type Change, type OverlayOptions } from '../changeset';
import { withMounts } from '../mount';
import type { Mount } from '../snapshots/types';
import { bindDir, overlayDirs, readOnly, readOnlyLayers } from './mount-shapes';

/**
 * When `right` is an overlay stacked exactly on the layers `left` shows,
 * the change is what its top directory holds: its upper dir (an active
 * snapshot) or its top lower dir (a view of a committed one). Then only
 * that directory is read, unless it turns out not to tell the change
 * alone (see overlayUpperChanges).
 */
function overlayFastPath(left: Mount[], right: Mount[], distinguishAdditions: boolean): { upper: string; lowers: string[]; options: OverlayOptions } | undefined {
  const overlay = overlayDirs(right);
  const base = readOnlyLayers(left);
  if (!overlay || !base) return undefined;
  const [upper, lowers] = overlay.upperDir !== undefined
    ? [overlay.upperDir, overlay.lowerDirs]
    : [overlay.lowerDirs[0], overlay.lowerDirs.slice(1)];
  const same = lowers.length === base.length && lowers.every((dir, i) => path.resolve(dir) === path.resolve(base[i]));
  return same ? { upper, lowers, options: { userxattr: overlay.userxattr, dataDirs: overlay.dataDirs, distinguishAdditions } } : undefined;
}

/** Runs `use` on a read-only directory showing `mounts`: a bind source as it is, an empty directory for none. */
async function withReadOnlyTree<T>(mounts: Mount[], use: (dir: string) => Promise<T>): Promise<T> {
  const bind = bindDir(mounts);
  if (bind) return use(bind.source);
  if (mounts.length > 0) return withMounts(readOnly(mounts), use);
  const empty = await mkdtemp(path.join(tmpdir(), 'strata-empty-'));
  try {
    return await use(empty);
  } finally {
    await rmdir(empty);
  }
}

export interface ChangesOptions {
  /** See OverlayOptions.distinguishAdditions; default true. */
  distinguishAdditions?: boolean;
}

/** For a layer writer, which writes additions and modifications alike. */
export const FOR_LAYER: ChangesOptions = { distinguishAdditions: false };

/**
 * Runs `use` on the changes that turn the tree `left` mounts into the tree
 * `right` mounts (containerd's Compare arguments), reading as little as
 * possible; mounts made for the comparison last until `use` settles.
 */
export async function withChanges<T>(
  left: Mount[],
  right: Mount[],
  use: (changes: AsyncIterable<Change>) => Promise<T>,
  { distinguishAdditions = true }: ChangesOptions = {},
): Promise<T> {
  const fast = overlayFastPath(left, right, distinguishAdditions);
  const changes = fast && (await overlayUpperChanges(fast.upper, fast.lowers, fast.options));
  if (changes) return use(changes);
  return withReadOnlyTree(left, (lower) => withReadOnlyTree(right, (upper) => use(compareTrees(lower, upper))));
}
