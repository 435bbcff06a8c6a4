import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sourceChanges, UNTOLD, type Change, type ChangeSource, type OverlayOptions } from '../changeset';
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
 * Runs `use` on where the changes that turn the tree `left` mounts into
 * the tree `right` mounts (containerd's Compare arguments) can be read
 * with the least reading: an overlay's top directory when it tells them
 * (`use` answers UNTOLD when it does not), else both trees, mounted
 * read-only until `use` settles.
 */
export async function withChangeSource<T>(
  left: Mount[],
  right: Mount[],
  use: (source: ChangeSource) => Promise<T | typeof UNTOLD>,
  { distinguishAdditions = true }: ChangesOptions = {},
): Promise<T> {
  const fast = overlayFastPath(left, right, distinguishAdditions);
  const told = fast ? await use({ overlay: fast }) : UNTOLD;
  if (told !== UNTOLD) return told;
  return withReadOnlyTree(left, (lower) => withReadOnlyTree(right, async (upper) => {
    const compared = await use({ trees: { lower, upper } });
    if (compared === UNTOLD) throw new Error('a comparison of two trees always tells their changes');
    return compared;
  }));
}

/**
 * withChangeSource for a user of the changes themselves, read in this
 * thread with blocking calls: for tools and tests, not a server.
 */
export function withChanges<T>(left: Mount[], right: Mount[], use: (changes: Iterable<Change>) => Promise<T>, options: ChangesOptions = {}): Promise<T> {
  return withChangeSource(left, right, async (source) => {
    const changes = sourceChanges(source);
    return changes ? use(changes) : UNTOLD;
  }, options);
}
