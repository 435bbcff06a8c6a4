/**
 * The main thread's handle on an apply worker thread: it runs one job at a
 * time, fed through a ring of shared-memory slots (byte-ring.ts). Threads
 * that finished a job cleanly wait in a small idle pool for the next one,
 * since starting a thread (a new V8 isolate, the modules loaded again)
 * costs 70-150 ms; a thread whose job failed is ended instead, so no stale
 * bytes or state can reach the next job.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { fromWire, type ApplyJob, type FromWorker, type ToWorker, type WorkerSetup } from './apply-protocol';
import { allocateRing, RingWriter } from './byte-ring';

const WORKER_SCRIPT = path.join(__dirname, 'apply-worker.js');
const SLOT_BYTES = 1 << 20;
const SLOTS = 8;
const MAX_IDLE = 2;

interface Job {
  resolve(entries: number): void;
  reject(err: Error): void;
}

const idle: ApplyThread[] = [];

export class ApplyThread {
  private readonly worker: Worker;
  private readonly ring: RingWriter;
  private job?: Job;
  /** True from the job's outcome (or the thread's death) until the next job starts. */
  finished = true;
  private dead = false;

  private constructor() {
    const memory = allocateRing(SLOTS, SLOT_BYTES);
    this.ring = new RingWriter(memory);
    const setup: WorkerSetup = { ring: memory };
    this.worker = new Worker(WORKER_SCRIPT, { workerData: setup });
    this.worker.on('message', (message: FromWorker) => {
      if ('entries' in message) this.settle()?.resolve(message.entries);
      else this.settle()?.reject(fromWire(message.error));
    });
    const die = (err: Error) => {
      this.dead = true;
      const waiting = idle.indexOf(this);
      if (waiting >= 0) idle.splice(waiting, 1);
      this.settle()?.reject(err);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`the apply thread exited (code ${code}) during an apply`)));
  }

  /** An idle thread, or a new one. */
  static acquire(): ApplyThread {
    const thread = idle.pop() ?? new ApplyThread();
    thread.worker.ref();
    return thread;
  }

  /** Starts a job; the promise is its outcome (the number of entries applied). */
  start(job: ApplyJob): Promise<number> {
    this.finished = false;
    const outcome = new Promise<number>((resolve, reject) => (this.job = { resolve, reject }));
    this.ring.begin();
    this.post({ job });
    return outcome;
  }

  /** Ends the current job, if any, and hands back its callbacks. */
  private settle(): Job | undefined {
    const job = this.job;
    this.job = undefined;
    this.finished = true;
    this.ring.stop();
    return job;
  }

  /** Hands `chunk` to the thread; waits while the ring is full. Returns early once the job is over. */
  write(chunk: Buffer): Promise<void> {
    return this.ring.write(chunk);
  }

  /** Tells the thread the bytes end here. */
  end(): void {
    this.ring.end();
  }

  /** Tells the thread to stop: the stream failed. */
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
