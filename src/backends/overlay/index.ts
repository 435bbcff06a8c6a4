import { mkdir } from 'node:fs/promises';
import { ObjectIndex } from '../../objects/object-index';
import { ObjectStore } from '../../objects/object-store';
import { unavailable } from '../../snapshots/errors';
import type { MetaStore } from '../../store/metastore';
import { detectOverlayFeatures } from './features';
import { OverlayLayout } from './layout';
import { OverlayBackend, type ObjectStoreMode, type ObjectStoreSetting } from './overlay-backend';
import { objectStoreUnsupportedReason } from './object-store-support';
import { probeOncePerBoot } from './probe-cache';
import { checkOverlaySupport } from './support';

export interface OverlayBackendOptions {
  /** The strata root; storage goes to `<root>/snapshots` (and `objects`, `l`, `empty`). */
  root: string;
  objectStore: ObjectStoreSetting;
  /** The snapshot metadata, beside which object reference counts are kept. */
  store: MetaStore;
}

/**
 * The overlayfs backend. Whether overlay works under `root`, the kernel
 * features its mounts use and whether the object store can be used are
 * checked here, the mounting probes once per boot.
 */
export async function createOverlayBackend(options: OverlayBackendOptions): Promise<OverlayBackend> {
  const layout = new OverlayLayout(options.root);
  await mkdir(layout.snapshotsDir, { recursive: true, mode: 0o700 });
  const features = await detectOverlayFeatures();
  const probed = await probeOncePerBoot(layout.probeFile, layout.snapshotsDir, features, async () => {
    await checkOverlaySupport(layout.snapshotsDir);
    return { objectStoreReason: await objectStoreUnsupportedReason(layout.snapshotsDir, features) };
  });
  const reason = options.objectStore === 'off' ? 'object_store is "off"' : probed.objectStoreReason;
  if (options.objectStore === 'on' && reason !== undefined) {
    throw unavailable(`object_store is "on", but the object store cannot be used here: ${reason}`);
  }
  const mode: ObjectStoreMode = { enabled: reason === undefined, configured: options.objectStore, ...(reason === undefined ? {} : { reason }) };
  const { store } = options;
  const index = new ObjectIndex(
    store.backendDatabase('overlay-objects', { plainMaps: true }),
    store.backendDatabase('overlay-layers', { plainMaps: true }),
    store.backendDatabase('overlay-object-totals', { plainMaps: true }),
  );
  const objects = new ObjectStore(layout.objectsDir, index, (operation) => store.transact(operation));
  const backend = new OverlayBackend(layout, features, objects, mode);
  if (mode.enabled) {
    objects.files.create();
    await mkdir(layout.linksDir, { recursive: true, mode: 0o700 });
    await mkdir(layout.emptyDir, { recursive: true, mode: 0o755 });
    await backend.linkExistingLayers();
  }
  return backend;
}

export { OverlayBackend, type OverlayStatus, type ObjectStoreMode, type ObjectStoreSetting } from './overlay-backend';
export { OverlayLayout } from './layout';
export { detectOverlayFeatures, type OverlayFeatures } from './features';
export { overlayMounts } from './mounts';
export { checkOverlaySupport } from './support';
