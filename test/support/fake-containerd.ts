/**
 * A stand-in for containerd's content and leases services on a unix socket,
 * for failures a real containerd cannot be made to have on cue: a read cut
 * in the middle of a blob, a write stream dropped, a lease service that
 * refuses. Blobs live in memory; behaviour can be changed between calls.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { grpcTarget } from '../../src/client/snapshots-client';
import { CONTENT_PROTO, CONTENT_SERVICE } from '../../src/content/content-client';
import { LEASES_PROTO, LEASES_SERVICE } from '../../src/content/leases-client';
import { loadService } from '../../src/server/proto';

export interface FakeBehaviour {
  /** Read sends this many bytes of the blob, then fails the call with Unavailable. */
  cutReadAfter?: number;
  /** Write fails with Unavailable on its first WRITE request. */
  cutWrite?: boolean;
  /** Leases.Create fails with this status. */
  leaseError?: grpc.status;
}

export interface FakeContainerd {
  address: string;
  behaviour: FakeBehaviour;
  /** Stores a blob; resolves to its digest. */
  add(data: Buffer): string;
  close(): Promise<void>;
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const failure = (code: grpc.status, details: string) => Object.assign(new Error(details), { code, details });

export async function startFakeContainerd(address: string): Promise<FakeContainerd> {
  const blobs = new Map<string, Buffer>();
  const fake: FakeContainerd = {
    address,
    behaviour: {},
    add(data) {
      const digest = sha256(data);
      blobs.set(digest, data);
      return digest;
    },
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };

  const server = new grpc.Server();
  server.addService(loadService(CONTENT_PROTO, CONTENT_SERVICE).service, {
    Read(call: grpc.ServerWritableStream<{ digest: string }, unknown>) {
      const blob = blobs.get(call.request.digest);
      if (blob === undefined) return call.emit('error', failure(grpc.status.NOT_FOUND, `content digest ${call.request.digest}: not found`));
      const cut = fake.behaviour.cutReadAfter;
      call.write({ offset: 0, data: blob.subarray(0, cut ?? blob.length) });
      if (cut === undefined) call.end();
      else call.emit('error', failure(grpc.status.UNAVAILABLE, 'content store went away mid-blob'));
    },
    Write(call: grpc.ServerDuplexStream<{ action: string; offset: string; data: Buffer }, unknown>) {
      let offset = 0;
      call.on('data', (request) => {
        if (request.action === 'WRITE' && fake.behaviour.cutWrite) {
          return call.emit('error', failure(grpc.status.UNAVAILABLE, 'content store went away mid-write'));
        }
        if (request.action === 'WRITE') offset += request.data.length;
        call.write({ action: request.action, offset, total: 0, digest: '' });
      });
      call.on('end', () => call.end());
    },
    Abort(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      callback(null, {});
    },
  });
  server.addService(loadService(LEASES_PROTO, LEASES_SERVICE).service, {
    Create(call: grpc.ServerUnaryCall<{ id: string }, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const code = fake.behaviour.leaseError;
      if (code !== undefined) callback(failure(code, 'lease service refuses'));
      else callback(null, { lease: { id: call.request.id, labels: {} } });
    },
    Delete(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      callback(null, {});
    },
  });
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(grpcTarget(address), grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  return fake;
}
