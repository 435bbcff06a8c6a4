/**
 * Writes a change stream as an OCI image layer (PAX tar, optionally
 * compressed), entry for entry as containerd's archive.ChangeWriter does:
 * deletions as `.wh.<name>`, opaque directories as `.wh..wh..opq`, second
 * and later names of a hard-linked inode as link entries.
 */
import { createReadStream, promises as fsp } from 'node:fs';
import { Readable } from 'node:stream';
import type { Change } from './change';
import { compressor, type Compression } from './compression';
import type { FileInfo } from './file-info';
import { Lookahead } from './lookahead';
import { baseName, joinRel, parentOf } from './paths';
import { encodeHeader, padding, type EntryType, type TarHeader } from './tar-header';

export interface WriteLayerOptions {
  compression: Compression;
  /**
   * Reproducible builds: mtimes later than this are clamped to it, and it is
   * the mtime of whiteout entries. Without it whiteouts carry the epoch (0)
   * so that the same changes always give the same bytes.
   */
  sourceDateEpoch?: Date;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

const TAR_TYPES: Partial<Record<FileInfo['type'], EntryType>> = {
  file: 'file', directory: 'directory', symlink: 'symlink', 'char-device': 'char-device', 'block-device': 'block-device', fifo: 'fifo',
};

function markerHeader(name: string, mtimeNs: bigint): TarHeader {
  return { name, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtimeNs, linkname: '', devMajor: 0, devMinor: 0, xattrs: new Map() };
}

/**
 * The first bytes of files are read this far ahead of their turn, several
 * files at a time: on a cold cache each small file is a disk round trip,
 * and one after another those dominated a diff of 100 changed files. The
 * bound keeps memory small (16 x 64 KiB); the rest of a larger file is
 * streamed when its turn comes.
 */
const HEAD_BYTES = 64 * 1024;
const CONTENT_LOOKAHEAD = 16;

interface Prepared {
  change: Change;
  /** The file's first bytes, when read ahead. */
  head?: Buffer;
}

/** Regular files with content, written under their own name: not hard links, whose first name may be a later change. */
function readsAhead(change: Change): boolean {
  const info = change.info;
  return (change.kind === 'add' || change.kind === 'modify') && info?.type === 'file' && info.size > 0 && info.nlink === 1;
}

/** The first bytes of a file, and one more if it grew since it was listed (so that fileContent can tell). */
async function readHead(info: FileInfo): Promise<Buffer> {
  const file = await fsp.open(info.contentPath, 'r');
  try {
    const head = Buffer.allocUnsafe(Math.min(info.size + 1, HEAD_BYTES));
    let got = 0;
    while (got < head.length) {
      const { bytesRead } = await file.read(head, got, head.length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return head.subarray(0, got);
  } finally {
    await file.close();
  }
}

/** A file's bytes: the head read ahead, then the rest if the head stopped at its bound. */
async function* contentChunks(info: FileInfo, head?: Buffer): AsyncGenerator<Buffer> {
  if (head) {
    yield head;
    if (head.length < HEAD_BYTES) return;
  }
  yield* createReadStream(info.contentPath, { start: head?.length ?? 0, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
}

async function* fileContent(info: FileInfo, name: string, head?: Buffer): AsyncGenerator<Buffer> {
  let written = 0;
  for await (const chunk of contentChunks(info, head)) {
    written += chunk.length;
    if (written > info.size) break;
    yield chunk;
  }
  if (written !== info.size) throw new Error(`${name} changed size while the layer was being written (${info.size} -> ${written} bytes)`);
  yield padding(info.size);
}

async function* tarBytes(changes: AsyncIterable<Change>, opts: WriteLayerOptions): AsyncGenerator<Buffer> {
  const epochNs = opts.sourceDateEpoch ? BigInt(opts.sourceDateEpoch.getTime()) * 1_000_000n : undefined;
  const whiteoutTime = epochNs ?? 0n;
  // Hard links: the first name written for an inode, and unmodified names
  // waiting for that first name (containerd's inodeSrc / inodeRefs).
  const inodeSource = new Map<string, string>();
  const inodeWaiting = new Map<string, string[]>();

  const prepared = new Lookahead(changes, async (change): Promise<Prepared> => ({
    change, head: readsAhead(change) ? await readHead(change.info!) : undefined,
  }), CONTENT_LOOKAHEAD);
  for await (const { change, head } of prepared) {
    if (change.kind === 'delete') {
      yield encodeHeader(markerHeader(joinRel(parentOf(change.path), WHITEOUT_PREFIX + baseName(change.path)), whiteoutTime));
      continue;
    }
    if (change.kind === 'opaque') {
      yield encodeHeader(markerHeader(joinRel(change.path, OPAQUE_MARKER), whiteoutTime));
      continue;
    }
    const info = change.info;
    if (!info) throw new Error(`change ${change.kind} of ${change.path} has no file info`);
    const type = TAR_TYPES[info.type];
    if (!type) continue; // sockets do not go into layers
    const name = type === 'directory' ? `${change.path}/` : change.path;
    const header: TarHeader = {
      name,
      type,
      mode: info.mode,
      uid: info.uid,
      gid: info.gid,
      size: info.size,
      mtimeNs: epochNs !== undefined && info.mtimeNs > epochNs ? epochNs : info.mtimeNs,
      linkname: info.linkTarget,
      devMajor: info.devMajor,
      devMinor: info.devMinor,
      xattrs: info.xattrs,
    };
    let extraLinks: string[] = [];
    if (info.nlink > 1 && type !== 'directory') {
      const source = inodeSource.get(info.inode);
      if (source !== undefined) {
        Object.assign(header, { type: 'link', linkname: source, size: 0 });
      } else if (change.kind === 'unmodified') {
        inodeWaiting.set(info.inode, [...(inodeWaiting.get(info.inode) ?? []), name]);
        continue;
      } else {
        inodeSource.set(info.inode, name);
        extraLinks = inodeWaiting.get(info.inode) ?? [];
        inodeWaiting.delete(info.inode);
      }
    } else if (change.kind === 'unmodified') {
      continue;
    }
    yield encodeHeader(header);
    if (header.type === 'file' && header.size > 0) yield* fileContent(info, name, head);
    for (const extra of extraLinks) {
      yield encodeHeader({ ...header, name: extra, type: 'link', linkname: name, size: 0 });
    }
  }
  yield Buffer.alloc(1024); // end-of-archive marker
}

/** The layer as a byte stream; errors (unreadable files, ...) destroy it. */
export function writeLayer(changes: AsyncIterable<Change>, opts: WriteLayerOptions): Readable {
  const tar = Readable.from(tarBytes(changes, opts), { objectMode: false, highWaterMark: 1 << 20 });
  const filter = compressor(opts.compression);
  if (!filter) return tar;
  tar.on('error', (err) => filter.destroy(err));
  return tar.pipe(filter) as unknown as Readable;
}
