/**
 * Layer compression. gzip uses Node's zlib. zstd uses zlib's zstd streams
 * when this Node has them (22.15+), else the `zstd` program (Debian package
 * `zstd`) as a streaming child process, else a clear error.
 */
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex, Readable } from 'node:stream';
import zlib from 'node:zlib';
import { spawnTool } from '../exec/run-tool';
import { describeTool, type Tool } from '../exec/tools';
import { unimplemented } from '../snapshots/errors';
import { LayerFormatError } from './errors';

export type Compression = 'none' | 'gzip' | 'zstd';

type ZstdFactory = () => Duplex;
const zlibZstd = zlib as unknown as { createZstdCompress?: ZstdFactory; createZstdDecompress?: ZstdFactory };

/** A filter program as a Duplex: bytes in on stdin, out on stdout, back-pressure both ways. */
class ProgramFilter extends Duplex {
  private readonly child: ChildProcessWithoutNullStreams;
  private stderr = '';

  constructor(private readonly cmd: Tool, args: string[]) {
    super();
    this.child = spawnTool(cmd, args);
    const { child } = this;
    child.stderr.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    child.stdout.on('data', (d: Buffer) => {
      if (!this.push(d)) child.stdout.pause();
    });
    // EPIPE on stdin after the program failed is reported through its exit status.
    child.stdin.on('error', () => undefined);
    // Unimplemented, not FailedPrecondition: containerd then falls back to its next differ.
    child.on('error', (err) => this.destroy(unimplemented(`zstd needs ${describeTool(cmd)}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) this.push(null);
      else this.destroy(new LayerFormatError(`${this.cmd} failed (exit ${code}): ${this.stderr.trim() || 'bad data'}`));
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.child.stdin.write(chunk)) cb();
    else this.child.stdin.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin.end();
    cb();
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.child.exitCode === null) this.child.kill();
    cb(err);
  }
}

/** The programs layer (de)compression runs on this Node. */
export const COMPRESSION_TOOLS: Tool[] = zlibZstd.createZstdDecompress ? [] : ['zstd'];

function zstdStream(direction: 'compress' | 'decompress'): Duplex {
  const native = direction === 'compress' ? zlibZstd.createZstdCompress : zlibZstd.createZstdDecompress;
  if (native) return native();
  return new ProgramFilter('zstd', direction === 'compress' ? ['-q', '-c', '-3'] : ['-q', '-d', '-c']);
}

export function compressor(kind: Compression): Duplex | undefined {
  switch (kind) {
    case 'none': return undefined;
    case 'gzip': return zlib.createGzip();
    case 'zstd': return zstdStream('compress');
  }
}

const GZIP = Buffer.from([0x1f, 0x8b]);
const ZSTD = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const XZ = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const BZIP2 = Buffer.from('BZh');

export function detectCompression(head: Buffer): Compression {
  if (head.subarray(0, 2).equals(GZIP)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD)) return 'zstd';
  if (head.subarray(0, 6).equals(XZ)) throw new LayerFormatError('xz-compressed layers are not supported');
  if (head.subarray(0, 3).equals(BZIP2)) throw new LayerFormatError('bzip2-compressed layers are not supported');
  return 'none';
}

/**
 * Yields the decompressed bytes of a layer stream whose compression is
 * recognised from its first bytes.
 */
export async function* decompressed(stream: AsyncIterable<Buffer>, onDetected?: (kind: Compression) => void): AsyncGenerator<Buffer> {
  const it = stream[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  const pending: Buffer[] = [];
  while (head.length < 6) {
    const { value, done } = await it.next();
    if (done) break;
    pending.push(value);
    head = Buffer.concat([head, value]);
  }
  const kind = detectCompression(head);
  onDetected?.(kind);
  async function* raw(): AsyncGenerator<Buffer> {
    yield* pending;
    for (let r = await it.next(); !r.done; r = await it.next()) yield r.value;
  }
  if (kind === 'none') {
    yield* raw();
    return;
  }
  const filter = kind === 'gzip' ? zlib.createGunzip({ chunkSize: 256 * 1024 }) : zstdStream('decompress');
  const input = Readable.from(raw());
  input.on('error', (err) => filter.destroy(err));
  input.pipe(filter);
  try {
    for await (const chunk of filter) yield chunk as Buffer;
  } catch (err) {
    if (err instanceof Error && 'errno' in err && kind === 'gzip') {
      throw new LayerFormatError(`corrupt gzip data: ${err.message}`);
    }
    throw err;
  } finally {
    input.destroy();
    filter.destroy();
  }
}
