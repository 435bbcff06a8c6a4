/**
 * A pull parser for a (decompressed) tar stream. It reads one entry header
 * at a time and hands out the body in the chunks it arrived in, so memory
 * stays bounded by the source's chunk size. It is synchronous: it runs in
 * the apply worker, whose source blocks until bytes arrive (see
 * byte-ring.ts), and a promise per header and body piece was a measurable
 * share of the apply time. It reads the source to its
 * end, past the end-of-archive blocks, so that whoever hashes the source
 * for the layer's DiffID sees every byte. Once it asks the source for the
 * next chunk it holds no view into the previous one (what spans chunks is
 * copied), so a source may reuse a chunk's memory from then on.
 */
import { LayerFormatError } from './errors';
import {
  BLOCK, decodeHeader, decodePax, isZeroBlock, parsePaxTime, typeOfFlag, XATTR_PREFIX, type TarHeader,
} from './tar-header';

/** Go's archive/tar bounds PAX and GNU long-name records to 1 MiB as well. */
export const DEFAULT_MAX_METADATA = 1 << 20;

export class TarReader {
  private readonly source: Iterator<Buffer>;
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private remaining = 0;
  private pad = 0;
  private ended = false;
  /** Name of the entry being read, for error messages. */
  current = '';

  constructor(
    source: Iterable<Buffer>,
    private readonly maxMetadata = DEFAULT_MAX_METADATA,
  ) {
    this.source = source[Symbol.iterator]();
  }

  private fill(): boolean {
    while (this.pos >= this.chunk.length) {
      const { value, done } = this.source.next();
      if (done) return false;
      const buf = Buffer.isBuffer(value) ? value : Buffer.from(value as Uint8Array);
      this.chunk = buf;
      this.pos = 0;
    }
    return true;
  }

  private truncated(what: string): LayerFormatError {
    return new LayerFormatError(`truncated tar stream: it ends inside ${what}`);
  }

  /** Reads exactly n bytes; null on a clean end of stream before the first byte. */
  private readExact(n: number, what: string): Buffer | null {
    if (!this.fill()) return null;
    if (this.chunk.length - this.pos >= n) {
      this.pos += n;
      return this.chunk.subarray(this.pos - n, this.pos);
    }
    const out = Buffer.allocUnsafe(n);
    let got = 0;
    while (got < n) {
      if (!this.fill()) throw this.truncated(what);
      const take = Math.min(n - got, this.chunk.length - this.pos);
      this.chunk.copy(out, got, this.pos, this.pos + take);
      this.pos += take;
      got += take;
    }
    return out;
  }

  /** `what` is a function: the message is composed only when the stream is truncated. */
  private skip(n: number, what: () => string): void {
    while (n > 0) {
      if (!this.fill()) throw this.truncated(what());
      const take = Math.min(n, this.chunk.length - this.pos);
      this.pos += take;
      n -= take;
    }
  }

  /**
   * Bytes of the current entry's body not handed out yet. At 0, the last
   * piece stays valid until next() (no more source chunks are asked for).
   */
  get bodyRemaining(): number {
    return this.remaining;
  }

  /** The next piece of the current entry's body, or null when it is all read. */
  readBody(): Buffer | null {
    if (this.remaining === 0) return null;
    if (!this.fill()) throw this.truncated(`the content of ${JSON.stringify(this.current)}`);
    const take = Math.min(this.remaining, this.chunk.length - this.pos);
    this.pos += take;
    this.remaining -= take;
    return this.chunk.subarray(this.pos - take, this.pos);
  }

  private readMetadata(size: number, kind: string): Buffer {
    if (size > this.maxMetadata) {
      throw new LayerFormatError(`${kind} of ${size} bytes after entry ${JSON.stringify(this.current)} exceeds the ${this.maxMetadata}-byte limit`);
    }
    const data = this.readExact(size, kind) ?? (size === 0 ? Buffer.alloc(0) : null);
    if (!data) throw this.truncated(kind);
    this.skip((BLOCK - (size % BLOCK)) % BLOCK, () => kind);
    // Copy: the slice may pin a large source chunk.
    return Buffer.from(data);
  }

  /** Advances to the next entry (skipping what is left of the current body); null at the end. */
  next(): TarHeader | null {
    if (this.ended) return null;
    this.skip(this.remaining + this.pad, () => `the content of ${JSON.stringify(this.current)}`);
    this.remaining = 0;
    this.pad = 0;
    let pax = new Map<string, Buffer>();
    let longName: string | undefined;
    let longLink: string | undefined;
    for (;;) {
      const block = this.readExact(BLOCK, 'a tar header');
      if (!block) throw new LayerFormatError('truncated tar stream: no end-of-archive marker');
      if (isZeroBlock(block)) {
        this.finish();
        return null;
      }
      const raw = decodeHeader(block);
      switch (raw.typeflag) {
        case 'x':
          pax = new Map([...pax, ...decodePax(this.readMetadata(raw.size, 'a PAX header'))]);
          continue;
        case 'g':
          // Global records apply to later entries in theory; containerd ignores them too.
          this.readMetadata(raw.size, 'a PAX global header');
          continue;
        case 'L':
          longName = this.readMetadata(raw.size, 'a GNU long name').toString('utf8').replace(/\0+$/, '');
          continue;
        case 'K':
          longLink = this.readMetadata(raw.size, 'a GNU long link name').toString('utf8').replace(/\0+$/, '');
          continue;
      }
      const name = pax.get('path')?.toString('utf8') ?? longName ?? raw.name;
      this.current = name;
      const type = typeOfFlag(raw.typeflag);
      if (!type) {
        throw new LayerFormatError(`entry ${JSON.stringify(name)} has unsupported type flag ${JSON.stringify(raw.typeflag)}`);
      }
      const num = (key: string, fallback: number) => {
        const v = pax.get(key)?.toString('latin1');
        if (v === undefined) return fallback;
        if (!/^\d+$/.test(v)) throw new LayerFormatError(`entry ${JSON.stringify(name)} has a bad PAX ${key} ${JSON.stringify(v)}`);
        return Number(v);
      };
      const xattrs = new Map<string, Buffer>();
      for (const [key, value] of pax) if (key.startsWith(XATTR_PREFIX)) xattrs.set(key.slice(XATTR_PREFIX.length), value);
      const mtime = pax.get('mtime');
      const header: TarHeader = {
        name,
        type,
        mode: raw.mode & 0o7777,
        uid: num('uid', raw.uid),
        gid: num('gid', raw.gid),
        size: num('size', raw.size),
        mtimeNs: mtime ? parsePaxTime(mtime.toString('latin1')) : BigInt(raw.mtimeSec) * 1_000_000_000n,
        linkname: pax.get('linkpath')?.toString('utf8') ?? longLink ?? raw.linkname,
        devMajor: raw.devMajor,
        devMinor: raw.devMinor,
        xattrs,
      };
      // Only regular files carry data: like Go's archive/tar (containerd), the
      // size field of header-only types is ignored.
      if (type !== 'file') header.size = 0;
      this.remaining = header.size;
      this.pad = (BLOCK - (header.size % BLOCK)) % BLOCK;
      return header;
    }
  }

  /** After the first zero block: expect a second, then read whatever follows. */
  private finish(): void {
    this.ended = true;
    const second = this.readExact(BLOCK, 'the end-of-archive marker');
    if (second && !isZeroBlock(second)) throw new LayerFormatError('data after a single zero block (corrupt end-of-archive marker)');
    while (this.fill()) this.pos = this.chunk.length;
  }
}
