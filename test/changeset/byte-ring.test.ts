import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { allocateRing, RingWriter, type RingMemory } from '../../src/changeset/byte-ring';

/**
 * A real reader thread: for every job message it reads the ring to the end
 * (or to an abort) and answers with the sha256 and length of what it read,
 * or the error's class and message.
 */
const READER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { RingReader } = require(${JSON.stringify(path.join(__dirname, '../../src/changeset/byte-ring.js'))});
const reader = new RingReader(workerData);
parentPort.on('message', () => {
  const hash = createHash('sha256');
  let size = 0;
  try {
    for (const chunk of reader.chunks()) {
      hash.update(chunk);
      size += chunk.length;
    }
    parentPort.postMessage({ digest: hash.digest('hex'), size });
  } catch (err) {
    parentPort.postMessage({ error: err.constructor.name + ': ' + err.message });
  }
});
`;

interface ReadResult { digest?: string; size?: number; error?: string }

function readerThread(t: { after(fn: () => Promise<unknown>): void }, memory: RingMemory) {
  const worker = new Worker(READER, { eval: true, workerData: memory });
  t.after(() => worker.terminate());
  return {
    job(): Promise<ReadResult> {
      const result = new Promise<ReadResult>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      worker.postMessage('go');
      return result;
    },
  };
}

/** Deterministic bytes, different per job. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 7) & 0xff;
  return out;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('jobs of many slots arrive intact, also when the counters wrap past 2^31', async (t) => {
  const memory = allocateRing(4, 4096);
  // Start the counters just below the int32 limit, as after 2^31 slots.
  const control = new Int32Array(memory.control);
  control[0] = 0x7ffffffd;
  control[1] = 0x7ffffffd;
  const reader = readerThread(t, memory);
  const writer = new RingWriter(memory);
  for (const [seed, length] of [[1, 50_000], [2, 0], [3, 4096 * 4], [4, 12_345]]) {
    const data = bytes(length, seed);
    writer.begin();
    const read = reader.job();
    // Odd chunk sizes, straddling slots; far more bytes than the ring holds, so the writer waits for free slots.
    for (let i = 0; i < data.length; i += 3000) await writer.write(data.subarray(i, i + 3000));
    writer.end();
    assert.deepEqual(await read, { digest: sha256(data), size: length });
  }
  assert.ok(control[0] < 0, 'the published counter wrapped');
});

test('an abort ends the reader with RingAbortedError', async (t) => {
  const memory = allocateRing(2, 1024);
  const reader = readerThread(t, memory);
  const writer = new RingWriter(memory);
  writer.begin();
  const read = reader.job();
  await writer.write(bytes(1500, 1));
  writer.abort();
  assert.deepEqual(await read, { error: 'RingAbortedError: the layer stream failed before its end' });
});

test('stop() releases a writer waiting on a full ring', async () => {
  // No reader at all: the ring fills and the writer waits.
  const writer = new RingWriter(allocateRing(2, 1024));
  writer.begin();
  let returned = false;
  const writing = writer.write(bytes(10_000, 1)).then(() => (returned = true));
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(returned, false, 'the writer waits while every slot is taken');
  writer.stop();
  await writing;
  assert.equal(returned, true);
});

test('a ring needs a power-of-two number of slots', () => {
  assert.throws(() => allocateRing(6, 1024), /power of two, got 6/);
});
