/**
 * What a set of containerd mounts is, as far as the differ cares: a single
 * bind mount of a directory, a single overlay with its layer directories,
 * or something that has to be mounted to be read.
 */
import path from 'node:path';
import type { Mount } from '../snapshots/types';

export interface OverlayDirs {
  /** Absent for a read-only overlay (a view). */
  upperDir?: string;
  /** The layers the merged tree shows, top first, as in `lowerdir=`. */
  lowerDirs: string[];
  /**
   * Data-only layers (`lowerdir=…::data1::data2`), in lookup order: their
   * files are never shown, only read as the content of metacopy files
   * that redirect to them (an object store).
   */
  dataDirs: string[];
  /** The overlay keeps its markers in user.overlay.* xattrs. */
  userxattr: boolean;
}

export interface BindDir {
  source: string;
  readOnly: boolean;
}

const isBindOption = (option: string) => option === 'bind' || option === 'rbind';

export function bindDir(mounts: Mount[]): BindDir | undefined {
  if (mounts.length !== 1) return undefined;
  const [mount] = mounts;
  if (mount.type !== 'bind' && !mount.options.some(isBindOption)) return undefined;
  if (!path.isAbsolute(mount.source)) return undefined;
  return { source: mount.source, readOnly: mount.options.includes('ro') };
}

export function overlayDirs(mounts: Mount[]): OverlayDirs | undefined {
  if (mounts.length !== 1 || mounts[0].type !== 'overlay') return undefined;
  const value = (key: string) => mounts[0].options.find((o) => o.startsWith(`${key}=`))?.slice(key.length + 1);
  const lower = value('lowerdir');
  if (lower === undefined) return undefined;
  const upperDir = value('upperdir');
  const [regular, ...dataDirs] = lower.split('::');
  const lowerDirs = regular.split(':');
  // The kernel takes no single ':' right of a '::': data-only layers are the bottom ones.
  if (dataDirs.some((dir) => dir.includes(':'))) return undefined;
  if (![...lowerDirs, ...dataDirs, upperDir ?? '/'].every((dir) => path.isAbsolute(dir))) return undefined;
  return { upperDir, lowerDirs, dataDirs, userxattr: mounts[0].options.includes('userxattr') };
}

/**
 * The directories a read-only view of `mounts` stacks, top first, when it is
 * one bind mount or one overlay without an upper dir; [] for no mounts (an
 * empty tree). Undefined when the mounts are anything else. An overlay's
 * data-only layers are not among them (see overlayDirs): they add no path.
 */
export function readOnlyLayers(mounts: Mount[]): string[] | undefined {
  if (mounts.length === 0) return [];
  const bind = bindDir(mounts);
  if (bind) return [bind.source];
  const overlay = overlayDirs(mounts);
  return overlay && overlay.upperDir === undefined ? overlay.lowerDirs : undefined;
}

/**
 * `mounts` made read-only for reading, as containerd's read-only temp
 * mounts: an overlay's upper dir becomes its top lower dir (so the same
 * upper dir is never mounted twice with a work dir), everything else gets `ro`.
 * An overlay keeps its data-only layers and metacopy/redirect_dir options:
 * the former upper's metacopy files and redirects need them to be read.
 */
export function readOnly(mounts: Mount[]): Mount[] {
  return mounts.map((mount) => {
    if (mount.type !== 'overlay') return { ...mount, options: [...mount.options.filter((o) => o !== 'rw'), 'ro'] };
    const upper = mount.options.find((o) => o.startsWith('upperdir='))?.slice('upperdir='.length);
    if (upper === undefined) return mount;
    const options = mount.options
      .filter((o) => !o.startsWith('upperdir=') && !o.startsWith('workdir=') && o !== 'rw' && o !== 'volatile')
      .map((o) => (o.startsWith('lowerdir=') ? `lowerdir=${upper}:${o.slice('lowerdir='.length)}` : o));
    return { ...mount, options };
  });
}
