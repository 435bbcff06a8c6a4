/**
 * The tar header formats (ustar and PAX, plus GNU long names when reading),
 * binary safe: PAX values stay bytes, because xattrs such as
 * security.capability are not text. tar-stream decodes and encodes PAX
 * values as UTF-8 strings, which corrupts those values; hence this module.
 */
import { LayerFormatError } from './errors';

export const BLOCK = 512;

export type EntryType = 'file' | 'link' | 'symlink' | 'char-device' | 'block-device' | 'directory' | 'fifo';

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Modification time in nanoseconds since the epoch. */
  mtimeNs: bigint;
  linkname: string;
  devMajor: number;
  devMinor: number;
  /** SCHILY.xattr.* records, name without the prefix. */
  xattrs: Map<string, Buffer>;
}

export const XATTR_PREFIX = 'SCHILY.xattr.';

const TYPE_FLAGS: Record<EntryType, string> = {
  file: '0', link: '1', symlink: '2', 'char-device': '3', 'block-device': '4', directory: '5', fifo: '6',
};

/** Header block as read, before PAX or GNU long-name records are merged in. */
export interface RawHeader {
  typeflag: string;
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeSec: number;
  linkname: string;
  devMajor: number;
  devMinor: number;
}

export function typeOfFlag(flag: string): EntryType | undefined {
  switch (flag) {
    case '0': case '\0': case '7': return 'file';
    case '1': return 'link';
    case '2': return 'symlink';
    case '3': return 'char-device';
    case '4': return 'block-device';
    case '5': return 'directory';
    case '6': return 'fifo';
  }
  return undefined;
}

function cString(buf: Buffer, start: number, length: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end < 0 || end > start + length ? start + length : end);
}

function parseNumber(buf: Buffer, start: number, length: number, field: string): number {
  if (buf[start] & 0x80) {
    // base-256 (GNU/star extension for values that do not fit in octal)
    if (buf[start] === 0xff) throw new LayerFormatError(`negative ${field} in tar header`);
    let value = buf[start] & 0x7f;
    for (let i = 1; i < length; i++) value = value * 256 + buf[start + i];
    return value;
  }
  // Octal digits, optionally padded with spaces or NULs on either side;
  // parsed by hand because this runs for every field of every header.
  let i = start;
  const end = start + length;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  let value = 0;
  for (; i < end && buf[i] >= 0x30 && buf[i] <= 0x37; i++) value = value * 8 + (buf[i] - 0x30);
  for (; i < end; i++) {
    if (buf[i] !== 0x20 && buf[i] !== 0) {
      throw new LayerFormatError(`bad ${field} field ${JSON.stringify(buf.toString('latin1', start, end))} in tar header`);
    }
  }
  return value;
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false;
  return true;
}

function checksum(block: Buffer): { unsigned: number; signed: number } {
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    unsigned += block[i];
    signed += block[i] > 127 ? block[i] - 256 : block[i];
  }
  return { unsigned, signed };
}

export function decodeHeader(block: Buffer): RawHeader {
  const stored = parseNumber(block, 148, 8, 'checksum');
  const sum = checksum(block);
  if (stored !== sum.unsigned && stored !== sum.signed) {
    throw new LayerFormatError('tar header checksum mismatch (corrupt data, or not a tar stream)');
  }
  let name = cString(block, 0, 100);
  const ustar = block.toString('latin1', 257, 262) === 'ustar';
  const gnu = block.toString('latin1', 257, 265) === 'ustar  \0';
  if (ustar && !gnu && block[345] !== 0) name = `${cString(block, 345, 155)}/${name}`;
  return {
    typeflag: String.fromCharCode(block[156]),
    name,
    mode: parseNumber(block, 100, 8, 'mode'),
    uid: parseNumber(block, 108, 8, 'uid'),
    gid: parseNumber(block, 116, 8, 'gid'),
    size: parseNumber(block, 124, 12, 'size'),
    mtimeSec: parseNumber(block, 136, 12, 'mtime'),
    linkname: cString(block, 157, 100),
    devMajor: parseNumber(block, 329, 8, 'devmajor'),
    devMinor: parseNumber(block, 337, 8, 'devminor'),
  };
}

/** Parses "<len> <key>=<value>\n" records; values stay bytes. */
export function decodePax(data: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    const len = space < 0 ? NaN : Number(data.toString('latin1', pos, space));
    if (!Number.isInteger(len) || len <= space - pos || pos + len > data.length || data[pos + len - 1] !== 0x0a) {
      // Trailing NUL padding is tolerated, anything else is not.
      if (data.subarray(pos).every((b) => b === 0)) break;
      throw new LayerFormatError(`malformed PAX record at offset ${pos}`);
    }
    const record = data.subarray(space + 1, pos + len - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new LayerFormatError(`malformed PAX record at offset ${pos}`);
    records.set(record.toString('utf8', 0, eq), record.subarray(eq + 1));
    pos += len;
  }
  return records;
}

/** PAX "mtime" is decimal seconds with an optional fraction. */
export function parsePaxTime(value: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(value);
  if (!m) throw new LayerFormatError(`bad PAX mtime ${JSON.stringify(value)}`);
  const ns = BigInt(m[2]) * 1_000_000_000n + BigInt((m[3] ?? '').slice(0, 9).padEnd(9, '0'));
  return m[1] ? -ns : ns;
}

function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  // The length prefix counts itself.
  let len = body.length + String(body.length).length;
  if (String(len).length !== String(body.length).length) len = body.length + String(len).length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function writeOctal(block: Buffer, value: number, start: number, length: number): void {
  block.write(value.toString(8).padStart(length - 1, '0') + '\0', start, length, 'latin1');
}

const isAscii = (s: string) => /^[\x01-\x7f]*$/.test(s);

/** Splits a long name into ustar prefix/name, or undefined when it cannot. */
function splitUstarName(name: string): [string, string] | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return ['', name];
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    if (i <= 155 && name.length - i - 1 <= 100 && name.length - i - 1 > 0) return [name.slice(0, i), name.slice(i + 1)];
  }
  return undefined;
}

function headerBlock(fields: {
  name: string; prefix: string; typeflag: string; mode: number; uid: number; gid: number; size: number;
  mtimeSec: number; linkname: string; devMajor: number; devMinor: number;
}): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(fields.name, 0, 100, 'utf8');
  writeOctal(block, fields.mode, 100, 8);
  writeOctal(block, fields.uid, 108, 8);
  writeOctal(block, fields.gid, 116, 8);
  writeOctal(block, fields.size, 124, 12);
  writeOctal(block, fields.mtimeSec, 136, 12);
  block.write(fields.typeflag, 156, 1, 'latin1');
  block.write(fields.linkname, 157, 100, 'utf8');
  block.write('ustar\x0000', 257, 8, 'latin1');
  writeOctal(block, fields.devMajor, 329, 8);
  writeOctal(block, fields.devMinor, 337, 8);
  block.write(fields.prefix, 345, 155, 'utf8');
  block.fill(0x20, 148, 156);
  writeOctal(block, checksum(block).unsigned, 148, 7);
  return block;
}

export function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/**
 * Encodes one entry's header blocks: a PAX extended header first when a
 * field does not fit ustar or xattrs are present (as Go's archive/tar does
 * for containerd), then the ustar header. mtime is written in whole seconds.
 */
export function encodeHeader(h: TarHeader): Buffer {
  const records: Buffer[] = [];
  const split = splitUstarName(h.name);
  if (!split) records.push(paxRecord('path', Buffer.from(h.name)));
  const linkFits = isAscii(h.linkname) && Buffer.byteLength(h.linkname) <= 100;
  if (!linkFits) records.push(paxRecord('linkpath', Buffer.from(h.linkname)));
  if (h.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(h.uid))));
  if (h.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(h.gid))));
  if (h.size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(h.size))));
  for (const [name, value] of [...h.xattrs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    records.push(paxRecord(XATTR_PREFIX + name, value));
  }
  const mtimeSec = Number(h.mtimeNs / 1_000_000_000n) - (h.mtimeNs < 0n && h.mtimeNs % 1_000_000_000n !== 0n ? 1 : 0);
  const common = {
    mode: h.mode & 0o7777,
    uid: Math.min(h.uid, MAX_OCTAL_7),
    gid: Math.min(h.gid, MAX_OCTAL_7),
    mtimeSec: Math.max(0, Math.min(mtimeSec, MAX_OCTAL_11)),
    devMajor: h.devMajor,
    devMinor: h.devMinor,
  };
  const blocks: Buffer[] = [];
  if (records.length > 0) {
    const data = Buffer.concat(records);
    const base = h.name.replace(/\/$/, '');
    const paxName = `PaxHeaders.0/${base.slice(base.lastIndexOf('/') + 1)}`.slice(0, 100);
    blocks.push(headerBlock({ ...common, name: isAscii(paxName) ? paxName : 'PaxHeaders.0/entry', prefix: '', typeflag: 'x', size: data.length, linkname: '' }), data, padding(data.length));
  }
  const [prefix, name] = split ?? ['', Buffer.from(h.name).subarray(0, 100).toString('latin1').replace(/[^\x01-\x7f]/g, '_')];
  blocks.push(headerBlock({
    ...common,
    name,
    prefix,
    typeflag: TYPE_FLAGS[h.type],
    size: Math.min(h.size, MAX_OCTAL_11),
    linkname: linkFits ? h.linkname : '',
  }));
  return Buffer.concat(blocks);
}
