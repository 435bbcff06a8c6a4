import type { Tool } from '../../exec/tools';
import type { ThinConfig } from './config';

/**
 * The programs a thin backend with this configuration runs, besides mount(8)
 * and umount(8). Device-mapper requests are ioctls of strata's own; dmsetup
 * only waits for a loopback pool's low-space events.
 */
export function thinTools(config: ThinConfig): Tool[] {
  return [
    ...(config.pool_name === undefined ? (['losetup', 'dmsetup'] as const) : []),
    ...(config.discard_blocks ? (['blkdiscard'] as const) : []),
    ...(config.fs_type === 'xfs' ? (['mkfs.xfs', 'xfs_growfs'] as const) : (['mkfs.ext4', 'resize2fs'] as const)),
  ];
}
