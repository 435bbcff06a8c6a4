import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { grpcTarget } from '../client/snapshots-client';
import { loadService } from '../server/proto';
import type { Labels } from '../snapshots/types';
import { callMetadata } from './call-context';
import { fromContainerd } from './errors';

export const LEASES_PROTO = 'containerd/services/leases/v1/leases.proto';
export const LEASES_SERVICE = 'containerd.services.leases.v1.Leases';

/** containerd's garbage collector deletes a lease, and then what only it held, after this RFC 3339 time. */
export const EXPIRE_LABEL = 'containerd.io/gc.expire';

export interface LeaseOptions {
  /** Defaults to a random `strata-<hex>`. */
  id?: string;
  /** The lease (and what only it holds) is collected this long after creation. */
  expiresInMs: number;
  labels?: Labels;
}

/** RFC 3339 in UTC without fractional seconds, as containerd writes it. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** A client for containerd's leases service (containerd.services.leases.v1), enough to protect written content. */
export class LeasesClient {
  private readonly client: grpc.Client;

  constructor(private readonly address: string) {
    const Service = loadService(LEASES_PROTO, LEASES_SERVICE);
    this.client = new Service(grpcTarget(address), grpc.credentials.createInsecure());
  }

  /** Creates a lease in `namespace` that expires by itself; resolves to its id. */
  async create(namespace: string, opts: LeaseOptions): Promise<string> {
    const id = opts.id ?? `strata-${randomBytes(8).toString('hex')}`;
    const labels = { ...opts.labels, [EXPIRE_LABEL]: rfc3339(new Date(Date.now() + opts.expiresInMs)) };
    const res = await this.unary<{ lease: { id: string } }>('Create', namespace, { id, labels });
    return res.lease.id;
  }

  /** Deletes a lease; `sync` waits for the garbage collection it allows. */
  async delete(namespace: string, id: string, sync = false): Promise<void> {
    await this.unary('Delete', namespace, { id, sync });
  }

  close(): void {
    this.client.close();
  }

  private unary<Res>(method: string, namespace: string, request: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      (this.client as any)[method](request, callMetadata({ namespace }), (err: unknown, res: Res) =>
        err ? reject(fromContainerd(err, 'leases', this.address)) : resolve(res),
      );
    });
  }
}
