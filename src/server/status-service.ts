import type * as grpc from '@grpc/grpc-js';
import type { Backend } from '../snapshots/backend';
import type { Snapshotter } from '../snapshots/snapshotter';
import { unary, type CallObserver } from './handlers';
import { emptyRequest } from './snapshot-messages';

/** strata.v1.Status: what `strata status` shows. */
export function statusService(
  facts: { version: string; root: string; metricsAddress?: string },
  snapshotter: Snapshotter,
  backend: Backend,
  observe: CallObserver,
): grpc.UntypedServiceImplementation {
  return {
    Status: unary('status', 'Status', emptyRequest, async () => ({
      version: facts.version,
      backend: backend.name,
      root: facts.root,
      snapshots: snapshotter.countByKind(),
      backend_status_json: JSON.stringify(await backend.status()),
      pid: process.pid,
      uptime_seconds: process.uptime(),
      metrics_address: facts.metricsAddress ?? '',
    }), observe),
  };
}
