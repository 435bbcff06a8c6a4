/**
 * A changeset thread's entry point: it runs one job after another
 * (threads are reused, see changeset-thread.ts), each wholly with
 * synchronous system calls, with no promise or event-loop turn per entry.
 * An apply job's tar bytes come through the shared ring (the reader blocks
 * until they arrive) and the Unpacker writes them; a layer job reads the
 * changes and sends the layer's bytes in chunks, blocking while the main
 * thread is a few chunks behind.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RingReader } from './byte-ring';
import type { Change } from './change';
import { sourceChanges } from './change-source';
import { toWire, type FromWorker, type LayerJob, type ToWorker, type WorkerSetup } from './thread-protocol';
import { Unpacker } from './unpacker';
import { layerChunks } from './writer';

const port = parentPort!;
const setup = workerData as WorkerSetup;
const ring = new RingReader(setup.ring);
const taken = new Int32Array(setup.taken);
const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

/** Bytes per chunk sent, and how many chunks may wait for the main thread. */
const CHUNK_BYTES = 1 << 20;
const CHUNKS_IN_FLIGHT = 4;

/** Gathers a layer's pieces (headers, file content) into chunks and sends them, each once there is room. */
class ChunkSender {
  private chunk = new Uint8Array(CHUNK_BYTES);
  private filled = 0;
  private sent = 0;

  write(piece: Uint8Array): void {
    for (let at = 0; at < piece.length;) {
      const n = Math.min(piece.length - at, CHUNK_BYTES - this.filled);
      this.chunk.set(piece.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === CHUNK_BYTES) this.flush();
    }
  }

  flush(): void {
    if (this.filled === 0) return;
    for (let seen = Atomics.load(taken, 0); this.sent - seen >= CHUNKS_IN_FLIGHT; seen = Atomics.load(taken, 0)) {
      Atomics.wait(taken, 0, seen);
    }
    const chunk = this.chunk.subarray(0, this.filled);
    // The buffer moves to the main thread; the next chunk gets a new one.
    post({ chunk }, [chunk.buffer as ArrayBuffer]);
    this.sent++;
    this.chunk = new Uint8Array(CHUNK_BYTES);
    this.filled = 0;
  }
}

function makeLayer(job: LayerJob): number | undefined {
  const changes = sourceChanges(job.source);
  post({ told: changes !== undefined });
  if (!changes) return undefined;
  let entries = 0;
  function* counted(): Generator<Change> {
    for (const change of changes!) {
      entries++;
      yield change;
    }
  }
  const sender = new ChunkSender();
  for (const piece of layerChunks(counted(), job)) sender.write(piece);
  sender.flush();
  return entries;
}

function run(message: ToWorker): void {
  let entries: number | undefined;
  try {
    entries = 'apply' in message ? new Unpacker(message.apply.root, message.apply.opts).apply(ring.chunks()) : makeLayer(message.layer);
  } catch (err) {
    post({ error: toWire(err) });
    // An apply's bytes may still be in the ring: take no more jobs (the
    // thread then ends once the message is out; the main thread ends a
    // thread whose job failed anyway).
    port.off('message', run);
    return;
  }
  if (entries !== undefined) post({ entries });
}

port.on('message', run);
