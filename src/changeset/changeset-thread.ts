/**
 * The main thread's handle on a changeset worker thread, which runs one job
 * at a time with synchronous system calls: an apply (tar bytes in, fed
 * through a ring of shared-memory slots, byte-ring.ts) or a layer (changes
 * read, tar bytes out, as messages of up to a MiB). Threads that finished
 * a job cleanly wait in a small idle pool for the next one, since starting
 * a thread (a new V8 isolate, the modules loaded again) costs 70-150 ms; a
 * thread whose job failed is ended instead, so no stale bytes or state can
 * reach the next job.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { allocateRing, RingWriter } from './byte-ring';
import { fromWire, type ApplyJob, type FromWorker, type LayerJob, type ToWorker, type WorkerSetup } from './thread-protocol';

const WORKER_SCRIPT = path.join(__dirname, 'changeset-worker.js');
const SLOT_BYTES = 1 << 20;
const SLOTS = 8;
const MAX_IDLE = 2;

interface Pending<T> {
  resolve(value: T): void;
  reject(err: Error): void;
}

const idle: ChangesetThread[] = [];

export class ChangesetThread {
  private readonly worker: Worker;
  private readonly ring: RingWriter;
  private readonly taken: Int32Array;
  private job?: Pending<number>;
  /** A layer job's answer to whether its source tells the changes. */
  private told?: Pending<boolean>;
  /** A layer job's chunks, received and not yet taken. */
  private readonly chunks: Buffer[] = [];
  private wake?: () => void;
  /** True from the job's outcome (or the thread's death) until the next job starts. */
  finished = true;
  private dead = false;

  private constructor() {
    const memory = allocateRing(SLOTS, SLOT_BYTES);
    this.ring = new RingWriter(memory);
    const taken = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
    this.taken = new Int32Array(taken);
    const setup: WorkerSetup = { ring: memory, taken };
    this.worker = new Worker(WORKER_SCRIPT, { workerData: setup });
    this.worker.on('message', (message: FromWorker) => {
      if ('chunk' in message) {
        this.chunks.push(Buffer.from(message.chunk.buffer, message.chunk.byteOffset, message.chunk.byteLength));
        this.wake?.();
      } else if ('told' in message) {
        this.told?.resolve(message.told);
        this.told = undefined;
        if (!message.told) this.settle()?.resolve(0);
      } else if ('entries' in message) {
        this.settle()?.resolve(message.entries);
      } else {
        const err = fromWire(message.error);
        this.settle(err)?.reject(err);
      }
    });
    const die = (err: Error) => {
      this.dead = true;
      const waiting = idle.indexOf(this);
      if (waiting >= 0) idle.splice(waiting, 1);
      this.settle(err)?.reject(err);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`the changeset thread exited (code ${code}) during a job`)));
  }

  /** An idle thread, or a new one. */
  static acquire(): ChangesetThread {
    const thread = idle.pop() ?? new ChangesetThread();
    thread.worker.ref();
    return thread;
  }

  /** Starts an apply job; the promise is its outcome (the number of entries applied). */
  startApply(job: ApplyJob): Promise<number> {
    const outcome = this.begin();
    this.ring.begin();
    this.post({ apply: job });
    return outcome;
  }

  /**
   * Starts a layer job. `told` says whether its source tells the changes
   * (if not, the job is over); `outcome` is the number of changes written,
   * once layerChunks has handed out every chunk.
   */
  startLayer(job: LayerJob): { told: Promise<boolean>; outcome: Promise<number> } {
    const outcome = this.begin();
    const told = new Promise<boolean>((resolve, reject) => (this.told = { resolve, reject }));
    this.chunks.length = 0;
    Atomics.store(this.taken, 0, 0);
    this.post({ layer: job });
    return { told, outcome };
  }

  /** The current layer job's bytes, as the thread sends them; ends when the job does (its outcome tells how). */
  async *layerChunks(): AsyncGenerator<Buffer> {
    for (;;) {
      const chunk = this.chunks.shift();
      if (chunk !== undefined) {
        // Room for one more chunk in flight.
        Atomics.add(this.taken, 0, 1);
        Atomics.notify(this.taken, 0);
        yield chunk;
        continue;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }

  private begin(): Promise<number> {
    this.finished = false;
    return new Promise<number>((resolve, reject) => (this.job = { resolve, reject }));
  }

  /** Ends the current job, if any, and hands back its callbacks; `err` also answers a layer job still waiting to be told. */
  private settle(err?: Error): Pending<number> | undefined {
    const job = this.job;
    this.job = undefined;
    this.finished = true;
    this.ring.stop();
    if (err) this.told?.reject(err);
    this.told = undefined;
    this.wake?.();
    return job;
  }

  /** Hands `chunk` to an apply job; waits while the ring is full. Returns early once the job is over. */
  write(chunk: Buffer): Promise<void> {
    return this.ring.write(chunk);
  }

  /** Tells an apply job the bytes end here. */
  end(): void {
    this.ring.end();
  }

  /** Tells an apply job to stop: the stream failed. */
  abort(): void {
    this.ring.abort();
  }

  private post(message: ToWorker): void {
    this.worker.postMessage(message);
  }

  /** Back to the pool after a clean job; ended otherwise (or when the pool is full). */
  async release(clean: boolean): Promise<void> {
    if (clean && !this.dead && idle.length < MAX_IDLE) {
      // An idle thread must not keep the process alive.
      this.worker.unref();
      idle.push(this);
      return;
    }
    await this.worker.terminate();
  }
}
