import { mkdir, mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { mountAll, unmount } from '../../mount';
import { unavailable } from '../../snapshots/errors';

/**
 * Mounts a two-layer overlay with an upper dir inside `dir` and writes
 * through it, as containerd's overlayutils.Supported does, so a kernel
 * without overlayfs or a file system that cannot hold an upper dir (another
 * overlay, some network file systems) is reported at start, not at the
 * first container.
 */
export async function checkOverlaySupport(dir: string): Promise<void> {
  const scratch = await mkdtemp(path.join(dir, 'check-'));
  try {
    const [lower1, lower2, upper, work, merged] = ['lower1', 'lower2', 'upper', 'work', 'merged'].map((name) => path.join(scratch, name));
    await Promise.all([lower1, lower2, upper, work, merged].map((d) => mkdir(d)));
    await writeFile(path.join(lower2, 'probe'), 'lower');
    try {
      await mountAll(
        [{ type: 'overlay', source: 'overlay', options: [`workdir=${work}`, `upperdir=${upper}`, `lowerdir=${lower1}:${lower2}`] }],
        merged,
      );
      try {
        await writeFile(path.join(merged, 'probe'), 'upper');
      } finally {
        await unmount(merged);
      }
      if ((await readFile(path.join(upper, 'probe'), 'utf8')) !== 'upper') throw new Error('a write did not reach the upper dir');
    } catch (err) {
      throw unavailable(`overlayfs is not usable under ${dir}: ${(err as Error).message}`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
