import { rmdir } from 'node:fs/promises';
import path from 'node:path';
import { withMounts } from '../../mount';
import { runTool } from '../../exec/run-tool';

/** The file systems a thin device can carry, made and grown with their own tools. */
export type FsType = 'ext4' | 'xfs';

/** Options every mount of a device needs, before "ro" for views. */
export function baseMountOptions(fsType: FsType): string[] {
  // Every snapshot of the base device carries the same xfs UUID; xfs refuses
  // to mount a second one unless told to ignore it.
  return fsType === 'xfs' ? ['nouuid'] : [];
}

/**
 * Formats `device` with an empty root, as an image's first layer expects.
 * Nothing is discarded (the thin device is fresh, so the blocks are unmapped
 * already) and ext4 initialises its tables now, not lazily in the background
 * on each snapshot's first mount.
 */
export async function makeFilesystem(fsType: FsType, device: string, extraOptions: string): Promise<void> {
  const extra = extraOptions.split(/\s+/).filter((option) => option !== '');
  if (fsType === 'ext4') {
    await runTool('mkfs.ext4', ['-q', '-F', '-E', 'nodiscard,lazy_itable_init=0,lazy_journal_init=0', ...extra, device]);
    // containerd's devmapper removes mkfs's lost+found too: no image has it,
    // and every snapshot of this device would show it.
    await withMounts([{ type: fsType, source: device, options: [] }], (root) => rmdir(path.join(root, 'lost+found')));
  } else {
    await runTool('mkfs.xfs', ['-q', '-f', '-K', ...extra, device]);
  }
}

/** Grows the file system on `device` to fill it; both tools grow a mounted file system. */
export async function growFilesystem(fsType: FsType, device: string): Promise<void> {
  const mount = { type: fsType, source: device, options: baseMountOptions(fsType) };
  await withMounts([mount], async (dir) => {
    if (fsType === 'ext4') await runTool('resize2fs', [device]);
    else await runTool('xfs_growfs', [dir]);
  });
}
