import { failedPrecondition } from '../../snapshots/errors';
import type { Mount, SnapshotRef } from '../../snapshots/types';
import type { OverlayFeatures } from './features';
import type { OverlayLayout } from './layout';

/**
 * The mounts of an active snapshot or a view, exactly as containerd's
 * overlayfs snapshotter returns them, so containerd, runc and the differs
 * treat them the same way.
 */
export function overlayMounts(layout: OverlayLayout, features: OverlayFeatures, ref: SnapshotRef): Mount[] {
  if (ref.kind !== 'active' && ref.kind !== 'view') {
    throw failedPrecondition(`snapshot ${ref.id} is ${ref.kind}: only active snapshots and views have mounts`);
  }
  if (ref.parentIds.length === 0) {
    // Overlay needs at least one lower dir; a lone layer is its own dir.
    return [{ type: 'bind', source: layout.fsDir(ref.id), options: [ref.kind === 'view' ? 'ro' : 'rw', 'rbind'] }];
  }
  if (ref.kind === 'view' && ref.parentIds.length === 1) {
    return [{ type: 'bind', source: layout.fsDir(ref.parentIds[0]), options: ['ro', 'rbind'] }];
  }
  const options: string[] = [];
  if (features.indexOff) options.push('index=off');
  if (features.userxattr) options.push('userxattr');
  if (ref.kind === 'active') {
    options.push(`workdir=${layout.workDir(ref.id)}`, `upperdir=${layout.fsDir(ref.id)}`);
  }
  // Nearest parent first: overlay gives the first lower dir precedence.
  options.push(`lowerdir=${ref.parentIds.map((id) => layout.fsDir(id)).join(':')}`);
  return [{ type: 'overlay', source: 'overlay', options }];
}
