import type { Logger } from 'pino';
import type { Backend } from '../snapshots/backend';
import type { MetaStore } from '../store/metastore';
import type { Tool } from '../exec/tools';
import type { ObjectStoreSetting } from './overlay/overlay-backend';
import type { ThinConfig } from './thin/config';
import { thinTools } from './thin/tools';

export type BackendName = 'overlay' | 'thin';

export interface BackendSettings {
  root: string;
  backend: BackendName;
  overlay: { object_store: ObjectStoreSetting };
  thin: ThinConfig;
}

/** Opens the configured backend over the strata root; only its modules are loaded, so a server starts without the other's. */
export async function openBackend(settings: BackendSettings, store: MetaStore, logger: Logger): Promise<Backend> {
  switch (settings.backend) {
    case 'overlay': {
      const { createOverlayBackend } = await import('./overlay');
      const backend = await createOverlayBackend({ root: settings.root, objectStore: settings.overlay.object_store, store });
      const { enabled, reason } = backend.objectMode;
      logger.info({ object_store: enabled ? 'on' : 'off', configured: settings.overlay.object_store, reason }, 'overlay object store');
      return backend;
    }
    case 'thin': {
      const { createThinBackend } = await import('./thin');
      return createThinBackend({
        root: settings.root,
        config: settings.thin,
        db: store.backendDatabase('thin'),
        log: (msg, fields) => logger.info(fields ?? {}, msg),
      });
    }
  }
}

/** The programs the configured backend runs, besides mount(8) and umount(8). */
export function backendTools(settings: BackendSettings): Tool[] {
  return settings.backend === 'thin' ? thinTools(settings.thin) : [];
}
