import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Mount } from '../snapshots/types';
import { mountAll } from './mount';
import { unmount } from './unmount';

/**
 * Mounts `mounts` on a fresh temporary directory, runs `fn` on it, and always
 * unmounts and removes the directory afterwards, whether `fn` succeeds or not.
 */
export async function withMounts<T>(mounts: Mount[], fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'strata-mnt-'));
  try {
    await mountAll(mounts, dir);
    try {
      return await fn(dir);
    } finally {
      await unmount(dir);
    }
  } finally {
    await rmdir(dir);
  }
}
