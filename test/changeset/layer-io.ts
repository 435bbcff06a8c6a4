/** Helpers to turn layers into buffers and entry lists in tests. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Change } from '../../src/changeset/change';
import { UNTOLD } from '../../src/changeset/change-source';
import { overlayUpperChanges, type OverlayOptions } from '../../src/changeset/overlay-upper';
import { withLayerInThread } from '../../src/changeset/threaded-layer';
import { writeLayer, type WriteLayerOptions } from '../../src/changeset/writer';
import { TarReader } from '../../src/changeset/tar-reader';
import type { TarHeader } from '../../src/changeset/tar-header';

export async function collect(stream: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export async function layerBytes(changes: Iterable<Change>, opts: WriteLayerOptions = { compression: 'none' }): Promise<Buffer> {
  return collect(writeLayer(changes, opts));
}

/** `content`: the sha256 of the entry's body, for entries that have one. */
export type ListedEntry = Omit<TarHeader, 'xattrs' | 'mtimeNs'> & { mtimeSec: number; xattrs: Record<string, string>; content?: string };

/** The entries of an uncompressed tar. */
export function listEntries(tar: Buffer): ListedEntry[] {
  const reader = new TarReader([tar]);
  const out: ListedEntry[] = [];
  for (let h = reader.next(); h; h = reader.next()) {
    const { xattrs, mtimeNs, ...rest } = h;
    const entry: ListedEntry = { ...rest, mtimeSec: Number(mtimeNs / 1_000_000_000n), xattrs: Object.fromEntries([...xattrs].map(([k, v]) => [k, v.toString('hex')])) };
    if (h.size > 0) {
      const hash = createHash('sha256');
      for (let chunk = reader.readBody(); chunk; chunk = reader.readBody()) hash.update(chunk);
      entry.content = hash.digest('hex');
    }
    out.push(entry);
  }
  return out;
}

export function collectChanges(changes: Iterable<Change>): Array<[string, string]> {
  return [...changes].map((c) => [c.kind, c.path]);
}

/** The fast path's changes, which must be there. */
export function upperChanges(...args: Parameters<typeof overlayUpperChanges>): Iterable<Change> {
  const changes = overlayUpperChanges(...args);
  assert.ok(changes, 'the upper dir alone tells the changes');
  return changes;
}

/**
 * The fast path's layer, made three ways: telling additions from
 * modifications and, as a layer writer does, without; and as the server
 * makes it, in a changeset thread. All must be the same bytes.
 */
export async function fastLayer(upper: string, lowers: string[], opts: OverlayOptions = {}): Promise<Buffer> {
  const told = await layerBytes(upperChanges(upper, lowers, opts));
  const untold = await layerBytes(upperChanges(upper, lowers, { ...opts, distinguishAdditions: false }));
  assert.deepEqual(listEntries(untold), listEntries(told), 'the layer writer\'s changes write the same layer');
  assert.ok(untold.equals(told));
  const threaded = await withLayerInThread({ overlay: { upper, lowers, options: { ...opts, distinguishAdditions: false } } }, {}, collect);
  assert.ok(threaded !== UNTOLD, 'the upper dir alone tells the changes');
  assert.ok(threaded.equals(told), 'the changeset thread writes the same layer');
  return told;
}
