import assert from 'node:assert/strict';
import type { Mount } from '../../src/snapshots/types';

/** Where a new file written into the snapshot lands on disk: the bind source or the overlay upper dir. */
export function writableDir(mounts: Mount[]): string {
  const [m] = mounts;
  if (m.type === 'bind') return m.source;
  const upper = m.options.find((o) => o.startsWith('upperdir='));
  assert.ok(upper, `no upperdir in ${JSON.stringify(m)}`);
  return upper.slice('upperdir='.length);
}
