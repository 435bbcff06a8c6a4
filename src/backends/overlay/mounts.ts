import { failedPrecondition } from '../../snapshots/errors';
import type { Mount, SnapshotRef } from '../../snapshots/types';
import type { OverlayFeatures } from './features';
import type { OverlayLayout } from './layout';
import { OBJECT_STORE_MOUNT_OPTIONS } from './object-store-support';

/**
 * The mounts of an active snapshot or a view, exactly as containerd's
 * overlayfs snapshotter returns them, so containerd, runc and the differs
 * treat them the same way.
 */
export function overlayMounts(layout: OverlayLayout, features: OverlayFeatures, ref: SnapshotRef, objectStore = false): Mount[] {
  if (ref.kind !== 'active' && ref.kind !== 'view') {
    throw failedPrecondition(`snapshot ${ref.id} is ${ref.kind}: only active snapshots and views have mounts`);
  }
  if (objectStore && !(ref.kind === 'view' && ref.parentIds.length === 0)) return objectStoreMounts(layout, features, ref);
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

/**
 * Object-store mode: every layer is read through overlayfs with the object
 * store as its data-only layer, so stubs show their content. Never a bind
 * mount, which would show stubs as empty files: a lone parent becomes a
 * read-only overlay of one layer, and an active snapshot without parents an
 * overlay over an empty dir, where a stub Apply wrote fails loudly (EIO)
 * until Commit makes the layer a lower one. Lowers go by their short links.
 */
function objectStoreMounts(layout: OverlayLayout, features: OverlayFeatures, ref: SnapshotRef): Mount[] {
  const options: string[] = [];
  if (features.indexOff) options.push('index=off');
  if (ref.kind === 'active') {
    options.push(`workdir=${layout.workDir(ref.id)}`, `upperdir=${layout.fsDir(ref.id)}`);
  }
  const lowers = ref.parentIds.length > 0 ? ref.parentIds.map((id) => layout.shortLink(id)) : [layout.emptyDir];
  options.push(`lowerdir=${lowers.join(':')}::${layout.objectsDir}`, ...OBJECT_STORE_MOUNT_OPTIONS);
  return [{ type: 'overlay', source: 'overlay', options }];
}
