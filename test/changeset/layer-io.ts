/** Helpers to turn layers into buffers and entry lists in tests. */
import type { Change } from '../../src/changeset/change';
import { writeLayer, type WriteLayerOptions } from '../../src/changeset/writer';
import { TarReader } from '../../src/changeset/tar-reader';
import type { TarHeader } from '../../src/changeset/tar-header';

export async function collect(stream: AsyncIterable<Buffer | Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

export async function layerBytes(changes: AsyncIterable<Change>, opts: WriteLayerOptions = { compression: 'none' }): Promise<Buffer> {
  return collect(writeLayer(changes, opts));
}

export type ListedEntry = Omit<TarHeader, 'xattrs' | 'mtimeNs'> & { mtimeSec: number; xattrs: Record<string, string> };

/** The entries of an uncompressed tar, headers only. */
export function listEntries(tar: Buffer): ListedEntry[] {
  const reader = new TarReader([tar]);
  const out: ListedEntry[] = [];
  for (let h = reader.next(); h; h = reader.next()) {
    const { xattrs, mtimeNs, ...rest } = h;
    out.push({ ...rest, mtimeSec: Number(mtimeNs / 1_000_000_000n), xattrs: Object.fromEntries([...xattrs].map(([k, v]) => [k, v.toString('hex')])) });
  }
  return out;
}

export async function collectChanges(changes: AsyncIterable<Change>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const c of changes) out.push([c.kind, c.path]);
  return out;
}
