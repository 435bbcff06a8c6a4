import { mkdir } from 'node:fs/promises';
import type { Backend } from '../../snapshots/backend';
import { detectOverlayFeatures } from './features';
import { OverlayLayout } from './layout';
import { OverlayBackend } from './overlay-backend';
import { checkOverlaySupport } from './support';

export interface OverlayBackendOptions {
  /** The strata root; storage goes to `<root>/snapshots`. */
  root: string;
}

/**
 * The overlayfs backend. Whether overlay works under `root`, and the kernel
 * features its mounts use, are checked once, here.
 */
export async function createOverlayBackend(options: OverlayBackendOptions): Promise<Backend> {
  const layout = new OverlayLayout(options.root);
  await mkdir(layout.snapshotsDir, { recursive: true, mode: 0o700 });
  await checkOverlaySupport(layout.snapshotsDir);
  return new OverlayBackend(layout, await detectOverlayFeatures());
}

export { OverlayBackend, type OverlayStatus } from './overlay-backend';
export { OverlayLayout } from './layout';
export { detectOverlayFeatures, type OverlayFeatures } from './features';
export { overlayMounts } from './mounts';
export { checkOverlaySupport } from './support';
