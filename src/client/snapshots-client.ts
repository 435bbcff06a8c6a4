import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadService, SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE } from '../server/proto';
import type { Kind, Labels, Mount, SnapshotInfo, Usage } from '../snapshots/types';
import { toProtoKind } from '../server/proto-kind';
import { fromProtoInfo, fromProtoMounts, fromProtoUsage, type ProtoInfo, type ProtoMount } from './messages';
import { toRemoteError } from './remote-error';

/** `/run/x.sock`, `x.sock` or `unix:///run/x.sock` to the target grpc-js dials. */
export function grpcTarget(address: string): string {
  return address.startsWith('unix:') ? address : `unix://${path.resolve(address)}`;
}

/** What Update sends: parent and kind are immutable; the server rejects a change of either. */
export interface SnapshotUpdate {
  name: string;
  labels: Labels;
  parent?: string;
  kind?: Kind;
}

export interface SnapshotsClientOptions {
  /** The `snapshotter` field of every request; strata ignores it, containerd sets its plugin name. */
  snapshotter?: string;
  /** Sent as containerd's `containerd-namespace` header, for talking to containerd itself. */
  namespace?: string;
}

/**
 * A promise client for containerd's snapshots service. Errors the server
 * answers with reject as RemoteError.
 */
export class SnapshotsClient {
  private readonly client: grpc.Client;
  private readonly snapshotter: string;
  private readonly metadata = new grpc.Metadata();
  private readonly target: string;

  constructor(address: string, options: SnapshotsClientOptions = {}) {
    const Service = loadService(SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE);
    this.target = grpcTarget(address);
    this.client = new Service(this.target, grpc.credentials.createInsecure());
    this.snapshotter = options.snapshotter ?? '';
    if (options.namespace !== undefined) this.metadata.set('containerd-namespace', options.namespace);
  }

  async prepare(key: string, parent = '', labels: Labels = {}): Promise<Mount[]> {
    const res = await this.call<{ mounts: ProtoMount[] }>('Prepare', { key, parent, labels });
    return fromProtoMounts(res.mounts);
  }

  async view(key: string, parent = '', labels: Labels = {}): Promise<Mount[]> {
    const res = await this.call<{ mounts: ProtoMount[] }>('View', { key, parent, labels });
    return fromProtoMounts(res.mounts);
  }

  async mounts(key: string): Promise<Mount[]> {
    const res = await this.call<{ mounts: ProtoMount[] }>('Mounts', { key });
    return fromProtoMounts(res.mounts);
  }

  /** `parent` (containerd 2.2+) gives a snapshot prepared without parent one at commit time. */
  async commit(name: string, key: string, labels: Labels = {}, parent = ''): Promise<void> {
    await this.call('Commit', { name, key, labels, parent });
  }

  async remove(key: string): Promise<void> {
    await this.call('Remove', { key });
  }

  async stat(key: string): Promise<SnapshotInfo> {
    const res = await this.call<{ info: ProtoInfo }>('Stat', { key });
    return fromProtoInfo(res.info);
  }

  /**
   * Changes the mutable fields of a snapshot. `fieldPaths` are containerd's
   * field mask (`labels`, `labels.KEY`); empty means every mutable field.
   */
  async update(info: SnapshotUpdate, fieldPaths: string[] = []): Promise<SnapshotInfo> {
    const res = await this.call<{ info: ProtoInfo }>('Update', {
      info: { name: info.name, labels: info.labels, parent: info.parent ?? '', kind: toProtoKind(info.kind) },
      update_mask: { paths: fieldPaths },
    });
    return fromProtoInfo(res.info);
  }

  /** Streams every snapshot matching any of `filters` (containerd filter syntax). */
  async *list(filters: string[] = []): AsyncGenerator<SnapshotInfo> {
    const stream: grpc.ClientReadableStream<{ info: ProtoInfo[] }> = (this.client as any).List({
      snapshotter: this.snapshotter,
      filters,
    }, this.metadata);
    try {
      for await (const message of stream) {
        for (const info of (message as { info: ProtoInfo[] }).info) yield fromProtoInfo(info);
      }
    } catch (err) {
      throw toRemoteError(err, this.target);
    } finally {
      // Stops the server's stream when the caller leaves the loop early.
      stream.cancel();
    }
  }

  async usage(key: string): Promise<Usage> {
    return fromProtoUsage(await this.call<{ size: string; inodes: string }>('Usage', { key }));
  }

  async cleanup(): Promise<void> {
    await this.call('Cleanup', {});
  }

  close(): void {
    this.client.close();
  }

  private call<Res>(method: string, request: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      (this.client as any)[method]({ snapshotter: this.snapshotter, ...request }, this.metadata, (err: unknown, res: Res) =>
        err ? reject(toRemoteError(err, this.target)) : resolve(res),
      );
    });
  }
}
