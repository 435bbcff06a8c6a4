import { lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Usage } from '../snapshots/types';

/** st_blocks counts 512-byte units whatever the file system's block size (stat(2)). */
const BLOCK_UNIT = 512n;

/** Entries stat'ed between yields: a few milliseconds of work when cached. */
const ENTRIES_PER_SLICE = 256;

/**
 * Disk usage of the tree at `root`, as containerd's fs.DiskUsage: bytes
 * allocated (st_blocks * 512) and the number of inodes, `root` included,
 * each hard-linked inode counted once. Symlinks are not followed.
 *
 * Synchronous lstat/readdir in slices, yielding to the event loop between
 * them: on a 10k-file tree this measured 2-3x faster than fs.promises with 4
 * to 128 requests in flight when cached, and no slower after dropping caches
 * (per-request promise and thread-pool overhead outweighs the parallelism).
 */
export async function diskUsage(root: string): Promise<Usage> {
  let size = 0n;
  let inodes = 0;
  // Only inodes with several links can be met twice; directories never can.
  const linked = new Set<string>();
  const stack = [root];
  let sinceYield = 0;
  while (stack.length > 0) {
    const file = stack.pop()!;
    const stat = lstatSync(file, { bigint: true });
    if (stat.nlink > 1n && !stat.isDirectory()) {
      const key = `${stat.dev}:${stat.ino}`;
      if (linked.has(key)) continue;
      linked.add(key);
    }
    size += stat.blocks * BLOCK_UNIT;
    inodes++;
    if (stat.isDirectory()) {
      for (const name of readdirSync(file)) stack.push(path.join(file, name));
    }
    if (++sinceYield === ENTRIES_PER_SLICE) {
      sinceYield = 0;
      await yieldToEventLoop();
    }
  }
  return { size: Number(size), inodes };
}
