import path from 'node:path';
import { invalidArgument } from '../snapshots/errors';
import type { Mount } from '../snapshots/types';
import { runMountTool } from './command';
import { topMountAt } from './mountinfo';
import { fitOverlayOptions } from './overlay-options';
import { unmount } from './unmount';

function isBind(mount: Mount): boolean {
  return mount.type === 'bind' || mount.options.includes('bind') || mount.options.includes('rbind');
}

function validate(mounts: Mount[], target: string): void {
  if (!path.isAbsolute(target)) throw invalidArgument(`mount target must be an absolute path, got ${JSON.stringify(target)}`);
  if (mounts.length === 0) throw invalidArgument('no mounts given');
  for (const mount of mounts) {
    if (!mount.type || !mount.source || !Array.isArray(mount.options)) {
      throw invalidArgument(`mount needs a type, a source and options: ${JSON.stringify(mount)}`);
    }
    if (mount.options.some((option) => option === '' || option.includes(','))) {
      throw invalidArgument(`mount options must be non-empty and contain no comma: ${JSON.stringify(mount.options)}`);
    }
  }
}

/**
 * A bind mount asked to be read-only must be; mount(8) remounts it so since
 * util-linux 2.27, checked here because a writable "view" would be silent.
 */
async function ensureReadOnly(target: string): Promise<void> {
  const mounted = await topMountAt(target);
  if (mounted?.mountOptions.includes('ro')) return;
  await runMountTool('mount', ['-o', 'remount,bind,ro', target]);
}

async function mountOne(mount: Mount, target: string): Promise<void> {
  const optionArgs = (options: string[]) => (options.length > 0 ? ['-o', options.join(',')] : []);
  if (isBind(mount)) {
    // type "bind" is containerd's convention, not a file-system type mount(8) knows.
    const options = mount.options.some((o) => o === 'bind' || o === 'rbind') ? mount.options : ['bind', ...mount.options];
    await runMountTool('mount', [...optionArgs(options), mount.source, target]);
    if (options.includes('ro')) await ensureReadOnly(target);
    return;
  }
  if (mount.type === 'overlay') {
    const fitted = await fitOverlayOptions(mount.options);
    try {
      await runMountTool('mount', ['-t', 'overlay', ...optionArgs(fitted.options), mount.source, target], fitted.cwd);
    } finally {
      await fitted.release();
    }
    return;
  }
  await runMountTool('mount', ['-t', mount.type, ...optionArgs(mount.options), mount.source, target]);
}

/**
 * Mounts `mounts` in order onto `target`, as containerd's mount.All does.
 * If one fails, those already mounted are unmounted before the error is thrown.
 */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  validate(mounts, target);
  let mounted = 0;
  try {
    for (const mount of mounts) {
      await mountOne(mount, target);
      mounted++;
    }
  } catch (err) {
    if (mounted > 0) await unmount(target);
    throw err;
  }
}
