/**
 * The apply thread's entry point: it runs one apply job after another
 * (threads are reused, see apply-thread.ts). Tar bytes arrive in ring
 * slots, an Unpacker writes them, the outcome goes back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toWire, type FromWorker, type ToWorker, type WorkerSetup } from './apply-protocol';
import { Unpacker } from './unpacker';

const port = parentPort!;
const { ring, slotBytes } = workerData as WorkerSetup;
const post = (message: FromWorker) => port.postMessage(message);

const queue: ToWorker[] = [];
let wake: (() => void) | undefined;
port.on('message', (message: ToWorker) => {
  queue.push(message);
  wake?.();
});

async function take(): Promise<ToWorker> {
  while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
  return queue.shift()!;
}

/**
 * The job's bytes as a stream. A slot goes back to the main thread when the
 * reader asks for the next one: the TarReader keeps no view into a chunk
 * past that point (it copies what spans chunks), and the Unpacker writes
 * each piece of content before it asks for more.
 */
async function* jobBytes(): AsyncGenerator<Buffer> {
  for (;;) {
    const message = await take();
    if ('slot' in message) {
      yield Buffer.from(ring, message.slot * slotBytes, message.length);
      post({ freed: message.slot });
    } else if ('end' in message) {
      return;
    } else if ('abort' in message) {
      throw new Error(message.abort);
    } else {
      throw new Error('apply thread: a new job arrived before the current one ended');
    }
  }
}

async function main(): Promise<void> {
  for (;;) {
    const message = await take();
    if (!('job' in message)) throw new Error(`apply thread: expected a job, got ${JSON.stringify(Object.keys(message))}`);
    const { root, opts } = message.job;
    try {
      post({ entries: await new Unpacker(root, opts).apply(jobBytes()) });
    } catch (err) {
      post({ error: toWire(err) });
      // The rest of this job's bytes may still be on their way: take no more
      // messages, the main thread ends a thread whose job failed.
      return;
    }
  }
}

void main();
