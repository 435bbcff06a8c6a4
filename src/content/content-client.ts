import { Readable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import { grpcTarget } from '../client/snapshots-client';
import { loadService } from '../server/proto';
import type { Labels } from '../snapshots/types';
import { callMetadata, type CallContext } from './call-context';
import { callMessages } from './call-messages';
import { writeContent, type WriteOptions, type Written, type WriteRequest, type WriteResponse } from './content-writer';
import { fromContainerd } from './errors';

export const CONTENT_PROTO = 'containerd/services/content/v1/content.proto';
export const CONTENT_SERVICE = 'containerd.services.content.v1.Content';

export interface ContentInfo {
  digest: string;
  size: number;
  labels: Labels;
}

export interface ReadOptions {
  /** First byte to read. */
  offset?: number;
  /** Bytes to read; 0 or absent reads to the end. */
  size?: number;
}

interface ProtoTimestamp {
  seconds: string;
  nanos: number;
}

interface ProtoInfo {
  digest: string;
  size: string;
  labels: Labels;
  created_at: ProtoTimestamp | null;
  updated_at: ProtoTimestamp | null;
}

interface ReadResponse {
  offset: string;
  data: Buffer;
}

function toInfo(info: ProtoInfo): ContentInfo {
  return { digest: info.digest, size: Number(info.size), labels: info.labels };
}

/**
 * A client for containerd's content store (containerd.services.content.v1)
 * over containerd's own socket. Content is streamed both ways: a read is a
 * Readable fed as the consumer asks, a write sends bounded chunks.
 */
export class ContentClient {
  private readonly client: grpc.Client;

  constructor(private readonly address: string) {
    const Service = loadService(CONTENT_PROTO, CONTENT_SERVICE);
    this.client = new Service(grpcTarget(address), grpc.credentials.createInsecure());
  }

  info(ctx: CallContext, digest: string): Promise<ContentInfo> {
    return this.unary<{ info: ProtoInfo }>('Info', ctx, { digest }).then((res) => toInfo(res.info));
  }

  /** Sets the given labels on a blob, leaving its other labels as they are. */
  updateLabels(ctx: CallContext, digest: string, labels: Labels): Promise<ContentInfo> {
    const request = {
      info: { digest, labels },
      update_mask: { paths: Object.keys(labels).map((key) => `labels.${key}`) },
    };
    return this.unary<{ info: ProtoInfo }>('Update', ctx, request).then((res) => toInfo(res.info));
  }

  /** Drops an unfinished write. */
  async abort(ctx: CallContext, ref: string): Promise<void> {
    await this.unary('Abort', ctx, { ref });
  }

  /**
   * The blob's bytes from `offset` on (containerd's ReaderAt), as a byte
   * stream: messages are pulled from containerd only as fast as the
   * consumer reads, and destroying the stream cancels the call.
   */
  read(ctx: CallContext, digest: string, opts: ReadOptions = {}): Readable {
    const request = { digest, offset: opts.offset ?? 0, size: opts.size ?? 0 };
    const open = (): grpc.ClientReadableStream<ReadResponse> => (this.client as any).Read(request, callMetadata(ctx));
    const address = this.address;
    async function* bytes(): AsyncGenerator<Buffer> {
      // The call starts with the first read: a stream destroyed unread makes no call that could outlive it.
      const call = open();
      // containerd numbers the messages' offsets from the start of the range.
      let expected = 0;
      let complete = false;
      try {
        for await (const message of callMessages(call)) {
          // containerd sends consecutive ranges; anything else would corrupt the blob silently.
          if (Number(message.offset) !== expected) {
            throw new Error(`containerd content: read of ${digest} returned offset ${message.offset}, expected ${expected}`);
          }
          expected += message.data.length;
          if (message.data.length > 0) yield message.data;
        }
        complete = true;
      } catch (err) {
        throw fromContainerd(err, 'content', address);
      } finally {
        if (!complete) call.cancel();
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }

  /**
   * Writes `source` under `opts.ref` and commits it, as containerd's
   * content.WriteBlob does: a ref another writer holds is waited for, and
   * content that already exists counts as written (`existed`; the source is
   * then not read).
   */
  write(ctx: CallContext, source: AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<Written> {
    return writeContent(
      () => (this.client as any).Write(callMetadata(ctx)) as grpc.ClientDuplexStream<WriteRequest, WriteResponse>,
      source,
      opts,
      (err) => fromContainerd(err, 'content', this.address),
    );
  }

  close(): void {
    this.client.close();
  }

  private unary<Res>(method: string, ctx: CallContext, request: object): Promise<Res> {
    return new Promise((resolve, reject) => {
      (this.client as any)[method](request, callMetadata(ctx), (err: unknown, res: Res) =>
        err ? reject(fromContainerd(err, 'content', this.address)) : resolve(res),
      );
    });
  }
}
