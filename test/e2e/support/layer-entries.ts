import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';

export interface LayerEntrySummary {
  name: string;
  type: string;
  size: number;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** The entries of a layer tar (plain or gzip) in archive order, streamed from disk; contents are skipped. */
export async function layerEntries(file: string): Promise<LayerEntrySummary[]> {
  const handle = await fs.open(file);
  const magic = Buffer.alloc(2);
  try {
    await handle.read(magic, 0, 2, 0);
  } finally {
    await handle.close();
  }
  const tar = createReadStream(file);
  const source = magic.equals(GZIP_MAGIC) ? tar.pipe(createGunzip()) : tar;
  const parser = extract();
  source.on('error', (err: Error) => parser.destroy(err));
  source.pipe(parser as unknown as NodeJS.WritableStream);
  const entries: LayerEntrySummary[] = [];
  for await (const entry of parser) {
    entries.push({ name: entry.header.name, type: entry.header.type ?? 'file', size: entry.header.size ?? 0 });
    entry.resume();
  }
  return entries;
}
