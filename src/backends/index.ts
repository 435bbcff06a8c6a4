import type { Logger } from 'pino';
import type { Backend } from '../snapshots/backend';
import type { MetaStore } from '../store/metastore';
import { createOverlayBackend } from './overlay';

export type BackendName = 'overlay' | 'thin';

export interface BackendSettings {
  root: string;
  backend: BackendName;
}

/** Opens the configured backend over the strata root. */
export async function openBackend(settings: BackendSettings, _store: MetaStore, _logger: Logger): Promise<Backend> {
  switch (settings.backend) {
    case 'overlay':
      return createOverlayBackend({ root: settings.root });
    case 'thin':
      throw new Error('the thin backend is not part of this build yet');
  }
}
