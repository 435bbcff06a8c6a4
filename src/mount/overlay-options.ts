import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { invalidArgument } from '../snapshots/errors';

/**
 * mount(2) copies at most one page of option data, NUL included; util-linux
 * 2.38 (bookworm) still uses mount(2), not the fsconfig API that has no such
 * limit. Measured: 4095 bytes of overlay options mount, 4096 fail.
 */
export const MOUNT_DATA_LIMIT = 4095;

/** Overlay options ready for mount(8): run it in `cwd`, then call `release`. */
export interface FittedOverlayOptions {
  options: string[];
  cwd?: string;
  release(): Promise<void>;
}

const noRelease = async () => {};

const LOWERDIR = 'lowerdir=';

function dataLength(options: string[]): number {
  return options.join(',').length;
}

function withLowerdirs(options: string[], lowerIndex: number, lowerdirs: string[]): string[] {
  const fitted = [...options];
  fitted[lowerIndex] = LOWERDIR + lowerdirs.join(':');
  return fitted;
}

/** The deepest directory that contains every one of the absolute `dirs`. */
export function commonParent(dirs: string[]): string {
  let parts = path.dirname(dirs[0]).split(path.sep);
  for (const dir of dirs.slice(1)) {
    const other = dir.split(path.sep);
    let same = 0;
    while (same < parts.length && same < other.length - 1 && parts[same] === other[same]) same++;
    parts = parts.slice(0, same);
  }
  return parts.join(path.sep) || path.sep;
}

/**
 * Makes overlay options fit in one page of mount data. Long lowerdir chains
 * (the kernel allows 500 layers) are shortened the way containerd does: paths
 * relative to their common parent, with mount(8) run in that directory, which
 * the kernel resolves them against. If that is still too long (long ids), the
 * lowers are reached through a temporary directory of short
 * symlinks ("0", "1", ...), resolved once at mount time, so it can go right
 * after the mount.
 */
export async function fitOverlayOptions(options: string[]): Promise<FittedOverlayOptions> {
  if (dataLength(options) <= MOUNT_DATA_LIMIT) return { options, release: noRelease };
  const lowerIndex = options.findIndex((option) => option.startsWith(LOWERDIR));
  const lowerdirs = lowerIndex < 0 ? [] : options[lowerIndex].slice(LOWERDIR.length).split(':');
  if (lowerdirs.length === 0 || !lowerdirs.every((dir) => path.isAbsolute(dir))) {
    throw invalidArgument(`overlay options are ${dataLength(options)} bytes, over the ${MOUNT_DATA_LIMIT}-byte mount limit`);
  }
  const parent = commonParent(lowerdirs);
  const relative = withLowerdirs(options, lowerIndex, lowerdirs.map((dir) => path.relative(parent, dir)));
  if (dataLength(relative) <= MOUNT_DATA_LIMIT) return { options: relative, cwd: parent, release: noRelease };

  const linkDir = await mkdtemp(path.join(tmpdir(), 'strata-lower-'));
  const release = () => rm(linkDir, { recursive: true, force: true });
  try {
    await Promise.all(lowerdirs.map((dir, i) => symlink(dir, path.join(linkDir, String(i)))));
    const linked = withLowerdirs(options, lowerIndex, lowerdirs.map((_, i) => String(i)));
    if (dataLength(linked) > MOUNT_DATA_LIMIT) {
      throw invalidArgument(`overlay options are ${dataLength(linked)} bytes even with short lowerdir links`);
    }
    return { options: linked, cwd: linkDir, release };
  } catch (err) {
    await release();
    throw err;
  }
}
