import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Lookahead } from '../../src/changeset/lookahead';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A source of 0..n-1 that records whether it was closed. */
function numbers(n: number, log: { closed: boolean }): AsyncGenerator<number> {
  return (async function* () {
    try {
      for (let i = 0; i < n; i++) yield i;
    } finally {
      log.closed = true;
    }
  })();
}

test('results come in source order while calls overlap, never more than depth at once', async () => {
  const log = { closed: false };
  let running = 0;
  let most = 0;
  const ahead = new Lookahead(numbers(40, log), async (i) => {
    running++;
    most = Math.max(most, running);
    // Later items finish first.
    await sleep(40 - i);
    running--;
    return i * 2;
  }, 8);
  const out: number[] = [];
  for await (const v of ahead) out.push(v);
  assert.deepEqual(out, Array.from({ length: 40 }, (_, i) => i * 2));
  assert.equal(most, 8);
  assert.ok(log.closed);
});

test('calls start before the first result is asked for', async () => {
  const started: number[] = [];
  const ahead = new Lookahead(numbers(10, { closed: false }), async (i) => {
    started.push(i);
    return i;
  }, 4);
  await sleep(10);
  assert.deepEqual(started, [0, 1, 2, 3]);
  await ahead.return();
});

test('a failing call is reported in its turn and closes the source', async () => {
  const log = { closed: false };
  const ahead = new Lookahead(numbers(100, log), async (i) => {
    if (i === 5) throw new Error('lstat failed for 5');
    return i;
  }, 16);
  const out: number[] = [];
  await assert.rejects(async () => {
    for await (const v of ahead) out.push(v);
  }, /lstat failed for 5/);
  assert.deepEqual(out, [0, 1, 2, 3, 4]);
  assert.ok(log.closed);
});

test('leaving the loop early closes the source', async () => {
  const log = { closed: false };
  const ahead = new Lookahead(numbers(100, log), async (i) => i, 4);
  for await (const v of ahead) if (v === 2) break;
  assert.ok(log.closed);
});
