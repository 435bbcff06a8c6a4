import fs from 'node:fs';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';

/** Entries handled between yields to the event loop. */
const ENTRIES_PER_SLICE = 256;

/**
 * Calls `visit` for every regular file under `root`, symlinks not followed.
 * Directories are read with synchronous calls in slices, yielding between
 * them (as fsutil/usage.ts, for the same reason: per-call thread-pool hops
 * cost more than they overlap); `visit` may itself await.
 */
export async function walkRegularFiles(root: string, visit: (file: string) => void | Promise<void>): Promise<void> {
  const stack = [root];
  let sinceYield = 0;
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = `${dir}/${entry.name}`;
      if (entry.isDirectory()) stack.push(file);
      else if (entry.isFile()) await visit(file);
      if (++sinceYield === ENTRIES_PER_SLICE) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
  }
}
