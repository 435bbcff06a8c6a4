/**
 * A ring of shared-memory slots that carries a byte stream from one thread
 * (the writer: the applier on the main thread) to another (the reader: the
 * apply worker), one job after another. Slots are published and freed by
 * bumping counters in shared memory, not by messages: a message wakes the
 * other thread's event loop every time (0.3-0.8 ms per message in the
 * worker on a loaded machine, 190 of them for a 200 MB layer), while a
 * counter costs nothing unless the other side sleeps waiting for it. The
 * reader blocks (Atomics.wait), which suits a thread that makes only
 * synchronous system calls; the writer waits asynchronously
 * (Atomics.waitAsync), so the main thread's event loop keeps running.
 */

/** What both threads share; sent to the worker once, when it starts. */
export interface RingMemory {
  data: SharedArrayBuffer;
  control: SharedArrayBuffer;
  slotBytes: number;
}

// Control words. The counters only grow (modulo 2^32); slot = count % slots.
const PUBLISHED = 0;
const CONSUMED = 1;
/** RUNNING, ENDED (no slot after the published ones) or ABORTED. */
const STATE = 2;
/** Bumped by the writer on every publish, end or abort: what the reader sleeps on. */
const SIGNAL = 3;
/** Then one length per slot. */
const LENGTHS = 4;

const RUNNING = 0;
const ENDED = 1;
const ABORTED = 2;

type WaitAsync = (array: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };
// ES2024, in Node since 16; the project's lib setting (ES2022) does not declare it.
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** `slots` must be a power of two, so that slot = count % slots stays right when a counter wraps. */
export function allocateRing(slots: number, slotBytes: number): RingMemory {
  if (slots < 1 || (slots & (slots - 1)) !== 0) throw new Error(`ring slots must be a power of two, got ${slots}`);
  return {
    data: new SharedArrayBuffer(slots * slotBytes),
    control: new SharedArrayBuffer((LENGTHS + slots) * Int32Array.BYTES_PER_ELEMENT),
    slotBytes,
  };
}

function slotCount(memory: RingMemory): number {
  return memory.data.byteLength / memory.slotBytes;
}

/** The slot a counter value names; counters are int32 and wrap. */
const slotOf = (count: number, slots: number) => (count >>> 0) % slots;

/** The main thread's end: copies chunks into slots and publishes them. */
export class RingWriter {
  private readonly control: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly slots: number;
  private readonly slotBytes: number;
  /** Slots published so far (this side's copy of PUBLISHED). */
  private published: number;
  private filled = 0;
  /** Set by stop(): the reader is gone or done, writes return at once. */
  private stopped = false;

  constructor(memory: RingMemory) {
    this.control = new Int32Array(memory.control);
    this.bytes = new Uint8Array(memory.data);
    this.slots = slotCount(memory);
    this.slotBytes = memory.slotBytes;
    this.published = Atomics.load(this.control, PUBLISHED);
  }

  /** Starts a job: the reader must be idle (it read the previous job to its end). */
  begin(): void {
    this.filled = 0;
    this.stopped = false;
    Atomics.store(this.control, STATE, RUNNING);
  }

  /** Copies `chunk` into slots, publishing each one that fills up; waits while all are taken. Returns early once stopped. */
  async write(chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length && !this.stopped;) {
      if (!(await this.slotFree())) return;
      const take = Math.min(chunk.length - offset, this.slotBytes - this.filled);
      const at = slotOf(this.published, this.slots) * this.slotBytes + this.filled;
      this.bytes.set(chunk.subarray(offset, offset + take), at);
      this.filled += take;
      offset += take;
      if (this.filled === this.slotBytes) this.publish();
    }
  }

  /** Publishes what is left and tells the reader the bytes end there. */
  end(): void {
    if (this.filled > 0) this.publish();
    this.signal(ENDED);
  }

  /** Tells the reader to stop with an error. */
  abort(): void {
    this.signal(ABORTED);
  }

  /** No more waiting for slots: the reader will not free any (its job is over). */
  stop(): void {
    this.stopped = true;
    // Wakes this thread's own pending waitAsync.
    Atomics.notify(this.control, CONSUMED);
  }

  /** Waits until the slot at `published` is free (it may be partly filled already); false when stopped. */
  private async slotFree(): Promise<boolean> {
    for (;;) {
      if (this.stopped) return false;
      const consumed = Atomics.load(this.control, CONSUMED);
      if (((this.published - consumed) | 0) < this.slots) return true;
      const wait = waitAsync(this.control, CONSUMED, consumed);
      if (wait.async) await wait.value;
    }
  }

  private publish(): void {
    this.control[LENGTHS + slotOf(this.published, this.slots)] = this.filled;
    this.filled = 0;
    this.published = (this.published + 1) | 0;
    Atomics.store(this.control, PUBLISHED, this.published);
    this.ring();
  }

  private signal(state: number): void {
    Atomics.store(this.control, STATE, state);
    this.ring();
  }

  private ring(): void {
    Atomics.add(this.control, SIGNAL, 1);
    Atomics.notify(this.control, SIGNAL);
  }
}

/** Thrown by the reader when the writer aborted the job. */
export class RingAbortedError extends Error {
  constructor() {
    super('the layer stream failed before its end');
  }
}

/**
 * The worker's end: the current job's bytes as chunks, blocking while none
 * is published. A chunk is a view into its slot, and the slot is freed when
 * the next chunk is asked for: the consumer must not keep a view past that.
 */
export class RingReader {
  private readonly control: Int32Array;
  private readonly slots: number;

  constructor(private readonly memory: RingMemory) {
    this.control = new Int32Array(memory.control);
    this.slots = slotCount(memory);
  }

  *chunks(): Generator<Buffer> {
    let consumed = Atomics.load(this.control, CONSUMED);
    for (;;) {
      const signal = Atomics.load(this.control, SIGNAL);
      // STATE before PUBLISHED: the writer publishes its last slot before it ends.
      const state = Atomics.load(this.control, STATE);
      if (state === ABORTED) throw new RingAbortedError();
      if (Atomics.load(this.control, PUBLISHED) !== consumed) {
        const slot = slotOf(consumed, this.slots);
        yield Buffer.from(this.memory.data, slot * this.memory.slotBytes, this.control[LENGTHS + slot]);
        consumed = (consumed + 1) | 0;
        Atomics.store(this.control, CONSUMED, consumed);
        Atomics.notify(this.control, CONSUMED);
      } else if (state === ENDED) {
        return;
      } else {
        Atomics.wait(this.control, SIGNAL, signal);
      }
    }
  }
}
