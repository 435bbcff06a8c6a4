/**
 * The client side of containerd's content Write stream: STAT to open (and
 * lock) the ref, WRITE chunks at increasing offsets, COMMIT with the
 * expected size, digest and labels. Every request gets one response, and
 * the next chunk is sent only after it: at most one chunk is in memory.
 */
import { createHash } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { isSnapshotError } from '../snapshots/errors';
import type { Labels } from '../snapshots/types';
import { callMessages } from './call-messages';

export interface WriteOptions {
  /** containerd's ingest reference: one writer at a time per ref. */
  ref: string;
  /** When known in advance: the blob is not written again if containerd has it, and the commit checks it. */
  expected?: { digest: string; size: number };
  /** Labels set at commit; a function is called once all data is sent (for labels derived from it). */
  labels?: Labels | (() => Labels);
}

export interface Written {
  digest: string;
  size: number;
  /** containerd already had this content; nothing was written. */
  existed: boolean;
}

export interface WriteRequest {
  action: 'STAT' | 'WRITE' | 'COMMIT';
  ref: string;
  total?: number;
  expected?: string;
  offset?: number;
  data?: Buffer;
  labels?: Labels;
}

export interface WriteResponse {
  action: string;
  offset: string;
  total: string;
  digest: string;
}

/** Below containerd's default 16 MiB message limit, large enough that round trips do not matter. */
const CHUNK_BYTES = 1 << 20;
/** content.OpenWriter's back-off while another writer holds the ref. */
const LOCKED_FIRST_DELAY_MS = 16;
const LOCKED_MAX_DELAY_MS = 2048;
const LOCKED_GIVE_UP_MS = 60_000;

class WriteSession {
  private readonly responses: AsyncIterator<WriteResponse>;

  constructor(private readonly call: grpc.ClientDuplexStream<WriteRequest, WriteResponse>) {
    this.responses = callMessages(call);
  }

  async send(request: WriteRequest): Promise<WriteResponse> {
    this.call.write(request);
    const next = await this.responses.next();
    if (next.done) throw new Error(`containerd closed the write stream of ref ${JSON.stringify(request.ref)} after ${request.action}`);
    return next.value;
  }

  /** Half-closes the stream and waits for containerd to end it, so its writer is released before we return. */
  async finish(): Promise<void> {
    this.call.end();
    while (!(await this.responses.next()).done);
  }

  cancel(): void {
    this.call.cancel();
  }
}

/** Coalesces small chunks (gzip emits 16 KiB) and splits large ones, so every message carries CHUNK_BYTES. */
async function* chunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const piece of source) {
    pending.push(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength));
    pendingBytes += piece.byteLength;
    if (pendingBytes < CHUNK_BYTES) continue;
    let joined = Buffer.concat(pending, pendingBytes);
    for (; joined.length >= CHUNK_BYTES; joined = joined.subarray(CHUNK_BYTES)) yield joined.subarray(0, CHUNK_BYTES);
    pending = joined.length > 0 ? [joined] : [];
    pendingBytes = joined.length;
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

function isLocked(err: unknown): boolean {
  return isSnapshotError(err, 'Unavailable') && /\blocked\b/.test(err.message);
}

/** How far a write got: containerd's AlreadyExists means different things before and after the data. */
interface Progress {
  /** Digest and size of everything sent, once the data is complete. */
  sent?: { digest: string; size: number };
}

async function writeOnce(session: WriteSession, source: AsyncIterable<Uint8Array>, opts: WriteOptions, progress: Progress): Promise<Written> {
  await session.send({ action: 'STAT', ref: opts.ref, total: opts.expected?.size ?? 0, expected: opts.expected?.digest ?? '' });
  const hash = createHash('sha256');
  let offset = 0;
  // The first write is at offset 0, which makes containerd drop whatever an
  // earlier, interrupted write under this ref left behind.
  for await (const data of chunks(source)) {
    const response = await session.send({ action: 'WRITE', ref: opts.ref, offset, data });
    hash.update(data);
    offset += data.length;
    if (Number(response.offset) !== offset) {
      throw new Error(`containerd content: short write to ref ${JSON.stringify(opts.ref)}: at ${response.offset} of ${offset} bytes`);
    }
  }
  progress.sent = { digest: `sha256:${hash.digest('hex')}`, size: offset };
  await session.send({
    action: 'COMMIT',
    ref: opts.ref,
    offset,
    total: opts.expected?.size ?? offset,
    expected: opts.expected?.digest ?? progress.sent.digest,
    labels: typeof opts.labels === 'function' ? opts.labels() : (opts.labels ?? {}),
  });
  await session.finish();
  return { ...progress.sent, existed: false };
}

/** Opens a session with `open` (again while the ref is locked) and writes `source` through it. */
export async function writeContent(
  open: () => grpc.ClientDuplexStream<WriteRequest, WriteResponse>,
  source: AsyncIterable<Uint8Array>,
  opts: WriteOptions,
  translate: (err: unknown) => unknown,
): Promise<Written> {
  const started = Date.now();
  for (let delay = LOCKED_FIRST_DELAY_MS; ; delay = Math.min(delay * 2, LOCKED_MAX_DELAY_MS)) {
    const session = new WriteSession(open());
    const progress: Progress = {};
    try {
      return await writeOnce(session, source, opts, progress);
    } catch (raw) {
      session.cancel();
      const err = translate(raw);
      // Content that exists is a success, as for content.WriteBlob.
      if (isSnapshotError(err, 'AlreadyExists')) {
        const known = progress.sent ?? opts.expected;
        if (known) return { ...known, existed: true };
        throw err;
      }
      if (!isLocked(err) || Date.now() - started > LOCKED_GIVE_UP_MS) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * delay));
    }
  }
}
