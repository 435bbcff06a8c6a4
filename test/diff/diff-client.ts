import * as grpc from '@grpc/grpc-js';
import { grpcTarget } from '../../src/client/snapshots-client';
import { DIFF_PROTO, DIFF_SERVICE } from '../../src/diff';
import { loadService } from '../../src/server/proto';
import type { Mount } from '../../src/snapshots/types';

export interface ProtoDescriptor {
  media_type: string;
  digest: string;
  size: string;
  annotations: Record<string, string>;
}

export interface DiffCallOptions {
  media_type?: string;
  ref?: string;
  labels?: Record<string, string>;
  source_date_epoch?: { seconds: number; nanos: number };
}

/** A raw client of strata's Diff service, as containerd calls it; failures reject with grpc-js's ServiceError. */
export class DiffClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    const Service = loadService(DIFF_PROTO, DIFF_SERVICE);
    this.client = new Service(grpcTarget(address), grpc.credentials.createInsecure());
  }

  async apply(diff: { media_type: string; digest: string; size: number }, mounts: Mount[], headers: Record<string, string> = {}): Promise<ProtoDescriptor> {
    const res = await this.call<{ applied: ProtoDescriptor }>('Apply', { diff, mounts }, headers);
    return res.applied;
  }

  async diff(left: Mount[], right: Mount[], opts: DiffCallOptions = {}, headers: Record<string, string> = {}): Promise<ProtoDescriptor> {
    const res = await this.call<{ diff: ProtoDescriptor }>('Diff', { left, right, ...opts }, headers);
    return res.diff;
  }

  close(): void {
    this.client.close();
  }

  private call<Res>(method: string, request: object, headers: Record<string, string>): Promise<Res> {
    const metadata = new grpc.Metadata();
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    return new Promise((resolve, reject) => {
      (this.client as any)[method](request, metadata, (err: unknown, res: Res) => (err ? reject(err) : resolve(res)));
    });
  }
}

/** The gRPC code name of a rejected call ("Unimplemented", ...) and its message. */
export async function failure(call: Promise<unknown>): Promise<{ code: string; details: string }> {
  try {
    await call;
  } catch (err) {
    const e = err as { code?: number; details?: string };
    return { code: grpc.status[e.code ?? -1] ?? String(e.code), details: e.details ?? String(err) };
  }
  throw new Error('expected the call to fail');
}
