import type { Logger } from 'pino';
import type { Backend } from '../snapshots/backend';
import type { MetaStore } from '../store/metastore';
import { createOverlayBackend } from './overlay';
import type { Tool } from '../exec/tools';
import { createThinBackend, thinTools, type ThinConfig } from './thin';

export type BackendName = 'overlay' | 'thin';

export interface BackendSettings {
  root: string;
  backend: BackendName;
  thin: ThinConfig;
}

/** Opens the configured backend over the strata root. */
export async function openBackend(settings: BackendSettings, store: MetaStore, logger: Logger): Promise<Backend> {
  switch (settings.backend) {
    case 'overlay':
      return createOverlayBackend({ root: settings.root });
    case 'thin':
      return createThinBackend({
        root: settings.root,
        config: settings.thin,
        db: store.backendDatabase('thin'),
        log: (msg, fields) => logger.info(fields ?? {}, msg),
      });
  }
}

/** The programs the configured backend runs, besides mount(8) and umount(8). */
export function backendTools(settings: BackendSettings): Tool[] {
  return settings.backend === 'thin' ? thinTools(settings.thin) : [];
}
