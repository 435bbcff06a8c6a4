import { type BigIntStats, lstatSync } from 'node:fs';
import type { Usage } from '../snapshots/types';
import { forEachEntry } from './walk';

/** st_blocks counts 512-byte units whatever the file system's block size (stat(2)). */
const BLOCK_UNIT = 512n;

/**
 * Disk usage of the tree at `root`, as containerd's fs.DiskUsage: bytes
 * allocated (st_blocks * 512) and the number of inodes, `root` included,
 * each hard-linked inode counted once. Symlinks are not followed.
 */
export async function diskUsage(root: string): Promise<Usage> {
  let size = 0n;
  let inodes = 0;
  // Only inodes with several links can be met twice; directories never can.
  const linked = new Set<string>();
  const count = (stat: BigIntStats) => {
    if (stat.nlink > 1n && !stat.isDirectory()) {
      const key = `${stat.dev}:${stat.ino}`;
      if (linked.has(key)) return;
      linked.add(key);
    }
    size += stat.blocks * BLOCK_UNIT;
    inodes++;
  };
  const rootStat = lstatSync(root, { bigint: true });
  count(rootStat);
  if (rootStat.isDirectory()) await forEachEntry(root, (file) => count(lstatSync(file, { bigint: true })));
  return { size: Number(size), inodes };
}
