/**
 * The apply thread's entry point: it runs one apply job after another
 * (threads are reused, see apply-thread.ts). A job arrives as a message;
 * its tar bytes come through the shared ring, and the whole job then runs
 * synchronously: the ring reader blocks until bytes arrive and the Unpacker
 * makes blocking system calls, with no promise or event-loop turn per
 * entry. The outcome goes back as a message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toWire, type FromWorker, type ToWorker, type WorkerSetup } from './apply-protocol';
import { RingReader } from './byte-ring';
import { Unpacker } from './unpacker';

const port = parentPort!;
const ring = new RingReader((workerData as WorkerSetup).ring);
const post = (message: FromWorker) => port.postMessage(message);

function run({ job }: ToWorker): void {
  let entries: number;
  try {
    entries = new Unpacker(job.root, job.opts).apply(ring.chunks());
  } catch (err) {
    post({ error: toWire(err) });
    // The rest of this job's bytes may still be in the ring: take no more
    // jobs (the thread then ends once the message is out; the main thread
    // ends a thread whose job failed anyway).
    port.off('message', run);
    return;
  }
  post({ entries });
}

port.on('message', run);
