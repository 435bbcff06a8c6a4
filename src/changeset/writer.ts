/**
 * Writes a change stream as an OCI image layer (PAX tar, optionally
 * compressed), entry for entry as containerd's archive.ChangeWriter does:
 * deletions as `.wh.<name>`, opaque directories as `.wh..wh..opq`, second
 * and later names of a hard-linked inode as link entries.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { Change } from './change';
import { compressor, type Compression } from './compression';
import type { FileInfo } from './file-info';
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

/** Content is read in pieces this large: few system calls, and bounded memory for any file. */
const READ_BYTES = 1 << 20;

/**
 * A file's bytes and the tar padding after them. One byte more than listed
 * is asked for, so a file that grew since it was listed is told apart.
 */
function* fileContent(info: FileInfo, name: string): Generator<Buffer> {
  const fd = fs.openSync(info.contentPath, 'r');
  try {
    let written = 0;
    while (written <= info.size) {
      const piece = Buffer.allocUnsafe(Math.min(READ_BYTES, info.size + 1 - written));
      const got = fs.readSync(fd, piece, 0, piece.length, written);
      if (got === 0) break;
      written += got;
      if (written > info.size) break;
      yield piece.subarray(0, got);
    }
    if (written !== info.size) throw new Error(`${name} changed size while the layer was being written (${info.size} -> ${written} bytes)`);
  } finally {
    fs.closeSync(fd);
  }
  yield padding(info.size);
}

/**
 * The layer's tar bytes, made with synchronous calls: in a thread of its
 * own for a server (see changeset-thread.ts), or as writeLayer's stream.
 */
export function* layerChunks(changes: Iterable<Change>, opts: Pick<WriteLayerOptions, 'sourceDateEpoch'>): Generator<Buffer> {
  const epochNs = opts.sourceDateEpoch ? BigInt(opts.sourceDateEpoch.getTime()) * 1_000_000n : undefined;
  const whiteoutTime = epochNs ?? 0n;
  // Hard links: the first name written for an inode, and unmodified names
  // waiting for that first name (containerd's inodeSrc / inodeRefs).
  const inodeSource = new Map<string, string>();
  const inodeWaiting = new Map<string, string[]>();

  for (const change of changes) {
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
    if (header.type === 'file' && header.size > 0) yield* fileContent(info, name);
    for (const extra of extraLinks) {
      yield encodeHeader({ ...header, name: extra, type: 'link', linkname: name, size: 0 });
    }
  }
  yield Buffer.alloc(1024); // end-of-archive marker
}

/**
 * The layer as a byte stream; errors (unreadable files, ...) destroy it.
 * It blocks its thread while it reads: for tools and tests, not a server.
 */
export function writeLayer(changes: Iterable<Change>, opts: WriteLayerOptions): Readable {
  const tar = Readable.from(layerChunks(changes, opts), { objectMode: false, highWaterMark: 1 << 20 });
  const filter = compressor(opts.compression);
  if (!filter) return tar;
  tar.on('error', (err) => filter.destroy(err));
  return tar.pipe(filter) as unknown as Readable;
}
