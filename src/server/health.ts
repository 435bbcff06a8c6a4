import * as grpc from '@grpc/grpc-js';

export const HEALTH_PROTO = 'grpc/health/v1/health.proto';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

type Status = 'SERVING' | 'NOT_SERVING';

/**
 * The standard gRPC health service. "" stands for the whole server; each
 * served API is listed by its full name. Status turns NOT_SERVING when the
 * server starts shutting down, so probes see it before the socket goes.
 */
export class HealthService {
  private readonly statuses = new Map<string, Status>();
  private readonly watchers = new Set<{ service: string; call: grpc.ServerWritableStream<unknown, unknown> }>();

  constructor(services: string[]) {
    for (const service of ['', ...services]) this.statuses.set(service, 'SERVING');
  }

  shutdown(): void {
    for (const service of this.statuses.keys()) this.statuses.set(service, 'NOT_SERVING');
    for (const watcher of this.watchers) {
      watcher.call.write({ status: 'NOT_SERVING' });
      watcher.call.end();
    }
    this.watchers.clear();
  }

  implementation(): grpc.UntypedServiceImplementation {
    return {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const status = this.statuses.get(call.request.service);
        if (status === undefined) callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${call.request.service}` });
        else callback(null, { status });
      },
      List: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        callback(null, { statuses: Object.fromEntries([...this.statuses].map(([service, status]) => [service, { status }])) });
      },
      Watch: (call: grpc.ServerWritableStream<{ service: string }, unknown>) => {
        const status = this.statuses.get(call.request.service) ?? 'SERVICE_UNKNOWN';
        call.write({ status });
        const watcher = { service: call.request.service, call };
        this.watchers.add(watcher);
        call.on('cancelled', () => this.watchers.delete(watcher));
      },
    };
  }
}
