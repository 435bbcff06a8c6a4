import * as grpc from '@grpc/grpc-js';
import { loadService, STATUS_PROTO, STATUS_SERVICE } from '../server/proto';
import { grpcTarget } from './snapshots-client';
import { toRemoteError } from './remote-error';

export interface ServerStatus {
  version: string;
  pid: number;
  uptimeSeconds: number;
  /** Where the Prometheus endpoint listens; absent when metrics are off. */
  metricsAddress?: string;
  backend: string;
  root: string;
  snapshots: Record<string, number>;
  /** The backend's own figures; fields depend on the backend. */
  backendStatus: Record<string, unknown>;
}

/** strata.v1.StatusResponse as server/proto.ts decodes it (int64 counts as strings). */
interface StatusResponse {
  version: string;
  pid: number;
  uptime_seconds: number;
  metrics_address: string;
  backend: string;
  root: string;
  snapshots: Record<string, string>;
  backend_status_json: string;
}

/** Asks a running server for strata.v1.Status. */
export function fetchStatus(address: string): Promise<ServerStatus> {
  const Service = loadService(STATUS_PROTO, STATUS_SERVICE);
  const client = new Service(grpcTarget(address), grpc.credentials.createInsecure());
  return new Promise<ServerStatus>((resolve, reject) => {
    (client as any).Status({}, (err: unknown, res: StatusResponse) => {
      client.close();
      if (err) return reject(toRemoteError(err, address));
      resolve({
        version: res.version,
        pid: res.pid,
        uptimeSeconds: res.uptime_seconds,
        ...(res.metrics_address ? { metricsAddress: res.metrics_address } : {}),
        backend: res.backend,
        root: res.root,
        snapshots: Object.fromEntries(Object.entries(res.snapshots).map(([kind, count]) => [kind, Number(count)])),
        backendStatus: JSON.parse(res.backend_status_json) as Record<string, unknown>,
      });
    });
  });
}
