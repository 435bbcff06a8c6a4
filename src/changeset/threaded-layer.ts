/**
 * A layer made in a changeset thread (see changeset-thread.ts), for a
 * server: the changes and the tar are read there with synchronous calls,
 * which cost far less than an event-loop round trip each (the layer of 100
 * changed files over the minbase rootfs took 13 ms so, against 68 ms with
 * promises, 2026-12-01, 2 cores), and this thread's event loop stays free.
 */
import { UNTOLD, type ChangeSource } from './change-source';
import { ChangesetThread } from './changeset-thread';
import type { WriteLayerOptions } from './writer';

/**
 * Runs `use` on the uncompressed layer of the changes `source` tells, as
 * a thread makes it; UNTOLD when an overlay source cannot tell them. The
 * bytes end with an error if the thread fails, before they would seem
 * complete. The thread stops once `use` settles.
 */
export async function withLayerInThread<T>(
  source: ChangeSource,
  opts: Pick<WriteLayerOptions, 'sourceDateEpoch'>,
  use: (layer: AsyncIterable<Buffer>) => Promise<T>,
): Promise<T | typeof UNTOLD> {
  const thread = ChangesetThread.acquire();
  const { told, outcome } = thread.startLayer({ source, sourceDateEpoch: opts.sourceDateEpoch });
  // Observed through the layer's bytes; never unhandled meanwhile.
  outcome.catch(() => undefined);
  let clean = false;
  try {
    if (!(await told)) {
      clean = true;
      return UNTOLD;
    }
    let complete = false;
    async function* layer(): AsyncGenerator<Buffer> {
      yield* thread.layerChunks();
      await outcome;
      complete = true;
    }
    const result = await use(layer());
    clean = complete;
    return result;
  } finally {
    // A thread stopped midway may be waiting for room to send: it is ended.
    await thread.release(clean);
  }
}
