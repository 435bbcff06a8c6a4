import { randomBytes } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { compressor, withLayerInThread, type ApplyResult, type Compression } from '../changeset';
import { ContentClient, LeasesClient, type CallContext } from '../content';
import { isSnapshotError } from '../snapshots/errors';
import type { Labels, Mount } from '../snapshots/types';
import { applyToMounts } from './apply-layer';
import { DigestTap } from './digest-tap';
import { LAYER_TAR, LAYER_TAR_GZIP, outputCompression, requireApplicable, UNCOMPRESSED_LABEL } from './media-types';
import { FOR_LAYER, withChangeSource } from './tree-changes';
import { VerifiedSource } from './verified-source';

/** An OCI descriptor as the diff API carries it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface DiffRequest {
  left: Mount[];
  right: Mount[];
  /** Default: gzip-compressed OCI layer. */
  mediaType?: string;
  /** The content store ingest ref; default a fresh one. */
  ref?: string;
  labels?: Labels;
  /** Reproducible layers: later mtimes are clamped to it. */
  sourceDateEpoch?: Date;
}

export interface DifferSettings {
  /** strata's root (see applyToMounts). */
  root: string;
  /** containerd's socket, for its content store and leases. */
  containerdAddress: string;
  /** Observes bytes of uncompressed layers applied ('applied') and produced ('produced'). */
  onLayerBytes?: (direction: 'applied' | 'produced', bytes: number) => void;
}

/**
 * Without a lease from the caller, a written diff is held by one of ours
 * this long, so containerd's collector leaves it to the caller to reference.
 */
export const DIFF_LEASE_TTL_MS = 60 * 60 * 1000;

/** As containerd's walking differ names its ingests: the time and some randomness. */
function uniqueRef(): string {
  return `${Date.now()}-${randomBytes(6).toString('base64url')}`;
}

/**
 * containerd's Applier and Comparer over containerd's content store, for
 * the Diff gRPC service. Layers stream from the content
 * store into the snapshot, and from the snapshot into the content store.
 */
export class Differ {
  private contentClient?: ContentClient;
  private leasesClient?: LeasesClient;

  constructor(private readonly settings: DifferSettings) {}

  /** Connections are made on first use: a strata that never diffs never dials containerd. */
  private get content(): ContentClient {
    return (this.contentClient ??= new ContentClient(this.settings.containerdAddress));
  }

  private get leases(): LeasesClient {
    return (this.leasesClient ??= new LeasesClient(this.settings.containerdAddress));
  }

  /**
   * Applies the layer `desc` names to the snapshot `mounts` describe and
   * returns the descriptor of the uncompressed layer. The blob's digest is
   * checked as it streams; a mismatch fails the call after the snapshot was
   * written, and containerd then discards that snapshot.
   */
  async apply(ctx: CallContext, desc: Descriptor, mounts: Mount[]): Promise<Descriptor> {
    requireApplicable(desc.mediaType);
    const blob = this.content.read(ctx, desc.digest);
    try {
      const source = new VerifiedSource(blob, desc);
      let result: ApplyResult;
      try {
        result = await applyToMounts(source, mounts, { strataRoot: this.settings.root, blobDigest: desc.digest, writeObjects: true });
      } catch (err) {
        // Corrupt content shows up as a broken tar first; the digest names the real cause.
        await source.verify().catch((mismatch: unknown) => {
          throw isSnapshotError(mismatch, 'FailedPrecondition') ? mismatch : err;
        });
        throw err;
      }
      await source.verify();
      this.settings.onLayerBytes?.('applied', result.size);
      return { mediaType: LAYER_TAR, digest: result.digest, size: result.size };
    } finally {
      blob.destroy();
    }
  }

  /**
   * Writes the changes from `left` to `right` as a layer into the content
   * store and returns its descriptor; the blob carries the caller's labels
   * and containerd.io/uncompressed, the DiffID containerd checks on unpack.
   */
  async diff(ctx: CallContext, request: DiffRequest): Promise<Descriptor> {
    const mediaType = request.mediaType || LAYER_TAR_GZIP;
    const compression = outputCompression(mediaType);
    const ownLease = ctx.lease === undefined ? await this.leases.create(ctx.namespace, { expiresInMs: DIFF_LEASE_TTL_MS }) : undefined;
    const writeCtx = { ...ctx, lease: ctx.lease ?? ownLease };
    try {
      return await this.writeDiff(writeCtx, request, mediaType, compression);
    } catch (err) {
      if (ownLease !== undefined) await this.leases.delete(ctx.namespace, ownLease).catch(() => undefined);
      throw err;
    }
  }

  private async writeDiff(ctx: CallContext, request: DiffRequest, mediaType: string, compression: Compression): Promise<Descriptor> {
    const ref = request.ref || uniqueRef();
    const tar = new DigestTap();
    const written = await withChangeSource(request.left, request.right, (source) => withLayerInThread(source, request, async (uncompressed) => {
      const bytes = Readable.from(tar.tap(uncompressed));
      const filter = compressor(compression);
      const layer = filter ? pipeline(bytes, filter, () => undefined) : bytes;
      try {
        return await this.content.write(ctx, layer, { ref, labels: () => ({ ...request.labels, [UNCOMPRESSED_LABEL]: tar.digest() }) });
      } catch (err) {
        layer.destroy();
        // A fresh ref is ours alone; a caller's ref stays for the caller to inspect or resume.
        if (!request.ref) await this.content.abort(ctx, ref).catch(() => undefined);
        throw err;
      }
    }), FOR_LAYER);
    this.settings.onLayerBytes?.('produced', tar.size);
    // Content that already existed kept its labels; the DiffID is the one containerd cannot do without.
    if (written.existed && (await this.content.info(ctx, written.digest)).labels[UNCOMPRESSED_LABEL] === undefined) {
      await this.content.updateLabels(ctx, written.digest, { [UNCOMPRESSED_LABEL]: tar.digest() });
    }
    return { mediaType, digest: written.digest, size: written.size };
  }

  close(): void {
    this.contentClient?.close();
    this.leasesClient?.close();
  }
}

