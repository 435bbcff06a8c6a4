/**
 * Applies a layer stream to a directory, streaming: entries are parsed as
 * the bytes arrive and file contents go to disk concurrently, with at most
 * a bounded number of bytes in flight.
 *
 * Two targets: a plain directory (a mounted snapshot: whiteouts delete), or
 * an overlay upper directory written without mounting (whiteouts become
 * 0/0 character devices and opaque markers the opaque xattr; lower layers
 * are not touched).
 *
 * Safety: every name is normalised (leading '/' stripped, '..' rejected);
 * parent directories are resolved inside the target, following symlinks
 * only while they stay inside it; the last component is never followed.
 */
import fs, { promises as fsp } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LayerFormatError, UnsafeEntryError } from './errors';
import { decompressed } from './compression';
import { mknod } from './special-files';
import { baseName, joinRel, normalizeEntryName, parentOf } from './paths';
import { DEFAULT_MAX_METADATA, TarReader } from './tar-reader';
import type { TarHeader } from './tar-header';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './writer';
import { writeXattrs } from './xattrs';
import type { Xattrs } from './file-info';

export type ApplyMode = 'directory' | 'overlay-upper';

export interface ApplyOptions {
  mode: ApplyMode;
  /** overlay-upper mode: write user.overlay.opaque instead of trusted.overlay.opaque. */
  userxattr?: boolean;
  /** Bound on one PAX header or GNU long name (default 1 MiB, as Go's archive/tar). */
  maxMetadataSize?: number;
}

export interface ApplyResult {
  /** sha256 of the uncompressed tar (the layer's DiffID). */
  digest: string;
  /** Bytes of the uncompressed tar. */
  size: number;
  entries: number;
}

const open = promisify(fs.open);
const writev = promisify(fs.writev);
const write = promisify(fs.write);
const fchown = promisify(fs.fchown);
const fchmod = promisify(fs.fchmod);
const futimes = promisify(fs.futimes);
const close = promisify(fs.close);

/** Files up to this size are buffered and written by a background job; larger ones are streamed. */
const BUFFERED_FILE_MAX = 1 << 20;
const MAX_BYTES_IN_FLIGHT = 32 << 20;
const MAX_JOBS_IN_FLIGHT = 64;
const MAX_SYMLINKS = 40;

const seconds = (ns: bigint) => Number(ns) / 1e9;
const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

interface DirMeta {
  abs: string;
  header: TarHeader;
}

class LayerApplier {
  private readonly umask = process.umask();
  /** Canonical relative paths this layer created; an opaque marker keeps them. */
  private readonly unpacked = new Set<string>();
  /** Directories this apply made: nothing can already exist inside them. */
  private readonly createdDirs = new Set<string>(['']);
  /** Resolved directories (entry path -> canonical path), valid until a directory or symlink is removed. */
  private resolved = new Map<string, string>();
  /** Path reservations: the pending job writing each canonical path. */
  private readonly jobs = new Map<string, Promise<void>>();
  private bytesInFlight = 0;
  private failure: unknown;
  private readonly dirs = new Map<string, DirMeta>();
  private readonly xattrs = new Map<string, Xattrs>();

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {
    this.createdDirs.delete('');
  }

  private abs(canonical: string): string {
    return path.join(this.root, canonical);
  }

  // ---- reservations ------------------------------------------------------

  private startJob(canonical: string, bytes: number, work: () => Promise<void>): void {
    this.bytesInFlight += bytes;
    const job = work()
      .catch((err) => { this.failure ??= err; })
      .finally(() => {
        this.bytesInFlight -= bytes;
        if (this.jobs.get(canonical) === job) this.jobs.delete(canonical);
      });
    this.jobs.set(canonical, job);
  }

  private async waitFor(canonical: string): Promise<void> {
    await this.jobs.get(canonical);
    this.check();
  }

  private async drain(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all(this.jobs.values());
    this.check();
  }

  private async throttle(): Promise<void> {
    while (this.bytesInFlight > MAX_BYTES_IN_FLIGHT || this.jobs.size >= MAX_JOBS_IN_FLIGHT) {
      await Promise.race(this.jobs.values());
    }
    this.check();
  }

  private check(): void {
    if (this.failure !== undefined) throw this.failure;
  }

  // ---- paths -------------------------------------------------------------

  /**
   * The canonical path of directory `rel` inside the root: symlinks are
   * followed as if the root were '/', and one that climbs above the root is
   * refused. Missing directories are created when `create` is set.
   */
  private async resolveDir(rel: string, entry: string, create: true, depth?: number): Promise<string>;
  private async resolveDir(rel: string, entry: string, create: boolean, depth?: number): Promise<string | undefined>;
  private async resolveDir(rel: string, entry: string, create: boolean, depth = 0): Promise<string | undefined> {
    if (rel === '') return '';
    const known = this.resolved.get(rel);
    if (known !== undefined) return known;
    if (depth > MAX_SYMLINKS) throw new UnsafeEntryError(entry, 'too many levels of symbolic links');
    const parent = await this.resolveDir(parentOf(rel), entry, create, depth);
    if (parent === undefined) return undefined;
    const canonical = joinRel(parent, baseName(rel));
    await this.waitFor(canonical);
    const abs = this.abs(canonical);
    let result = canonical;
    let st: fs.Stats | undefined;
    try {
      st = await fsp.lstat(abs);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    if (!st) {
      if (!create) return undefined;
      await fsp.mkdir(abs, { mode: 0o755 });
      this.createdDirs.add(canonical);
    } else if (st.isSymbolicLink()) {
      const target = await fsp.readlink(abs);
      // An absolute target means the target root, as in a container; a
      // relative one must not climb above the root.
      const joined = path.posix.normalize(target.startsWith('/') ? target : joinRel(parent, target));
      if (joined === '..' || joined.startsWith('../')) {
        throw new UnsafeEntryError(entry, `parent ${JSON.stringify(rel)} is a symlink to ${JSON.stringify(target)}, which leads outside the target`);
      }
      const followed = await this.resolveDir(normalizeEntryName(joined), entry, create, depth + 1);
      if (followed === undefined) return undefined;
      result = followed;
    } else if (!st.isDirectory()) {
      throw new LayerFormatError(`entry ${JSON.stringify(entry)}: parent ${JSON.stringify(rel)} is not a directory`);
    }
    this.resolved.set(rel, result);
    return result;
  }

  /** Removes whatever is at `canonical` (never following a symlink there). */
  private async remove(canonical: string): Promise<void> {
    for (const key of this.jobs.keys()) {
      if (key === canonical || key.startsWith(`${canonical}/`)) await this.waitFor(key);
    }
    let st: fs.Stats;
    try {
      st = await fsp.lstat(this.abs(canonical));
    } catch (err) {
      if (errno(err) === 'ENOENT') return;
      throw err;
    }
    if (st.isDirectory() || st.isSymbolicLink()) this.resolved = new Map();
    await fsp.rm(this.abs(canonical), { recursive: true, force: true });
    for (const pending of [this.dirs, this.xattrs]) {
      for (const key of pending.keys()) if (key === canonical || key.startsWith(`${canonical}/`)) pending.delete(key);
    }
  }

  /** Prepares `canonical` for a new object: clears an old one unless it is a directory that stays one. */
  private async clear(canonical: string, keepDirectory: boolean): Promise<boolean> {
    const parent = parentOf(canonical);
    if (this.createdDirs.has(parent) && !this.unpacked.has(canonical)) return false;
    await this.waitFor(canonical);
    let st: fs.Stats;
    try {
      st = await fsp.lstat(this.abs(canonical));
    } catch (err) {
      if (errno(err) === 'ENOENT') return false;
      throw err;
    }
    if (keepDirectory && st.isDirectory()) return true;
    await this.remove(canonical);
    return false;
  }

  // ---- entries -----------------------------------------------------------

  async apply(source: AsyncIterable<Buffer>): Promise<ApplyResult> {
    const reader = new TarReader(decompressed(source), this.opts.maxMetadataSize ?? DEFAULT_MAX_METADATA);
    let entries = 0;
    try {
      for (let header = await reader.next(); header; header = await reader.next()) {
        entries++;
        await this.throttle();
        await this.entry(header, reader);
      }
      await this.drain();
      await this.finishDirectories();
    } catch (err) {
      // Let running writes settle so nothing changes the target after we return.
      await Promise.allSettled(this.jobs.values());
      throw err;
    }
    return { digest: reader.digest(), size: reader.size, entries };
  }

  private async entry(header: TarHeader, reader: TarReader): Promise<void> {
    const rel = normalizeEntryName(header.name);
    if (rel === '') return; // the root itself: containerd skips it too
    const base = baseName(rel);
    if (base === OPAQUE_MARKER) return this.opaque(parentOf(rel), header.name);
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(rel, header.name);

    const parent = await this.resolveDir(parentOf(rel), header.name, true);
    const canonical = joinRel(parent, base);
    if (header.type === 'directory') {
      const exists = await this.clear(canonical, true);
      if (!exists) {
        await fsp.mkdir(this.abs(canonical), { mode: 0o700 });
        this.createdDirs.add(canonical);
      }
      this.resolved.set(rel, canonical);
      this.dirs.set(canonical, { abs: this.abs(canonical), header });
    } else {
      await this.clear(canonical, false);
      switch (header.type) {
        case 'file':
          await this.file(canonical, header, reader);
          break;
        case 'symlink':
          this.startJob(canonical, 0, () => this.symlink(canonical, header));
          break;
        case 'link':
          await this.hardlink(canonical, header);
          break;
        default:
          this.startJob(canonical, 0, () => this.special(canonical, header));
      }
    }
    if (header.xattrs.size > 0) this.xattrs.set(canonical, header.xattrs);
    this.unpacked.add(canonical);
  }

  private async file(canonical: string, header: TarHeader, reader: TarReader): Promise<void> {
    const abs = this.abs(canonical);
    if (header.size <= BUFFERED_FILE_MAX) {
      const chunks: Buffer[] = [];
      for (let c = await reader.readBody(); c; c = await reader.readBody()) chunks.push(c);
      this.startJob(canonical, header.size, async () => {
        const fd = await open(abs, 'wx', header.mode & 0o777);
        try {
          for (let pending = chunks; pending.length > 0;) {
            const { bytesWritten } = await writev(fd, pending);
            pending = remainder(pending, bytesWritten);
          }
          await this.fileMetadata(fd, header);
        } finally {
          await close(fd);
        }
      });
      return;
    }
    // Large file: stream it here, while the small files already queued keep going.
    const fd = await open(abs, 'wx', header.mode & 0o777);
    try {
      for (let c = await reader.readBody(); c; c = await reader.readBody()) {
        for (let off = 0; off < c.length;) off += (await write(fd, c, off, c.length - off)) as unknown as number;
      }
      await this.fileMetadata(fd, header);
    } finally {
      await close(fd);
    }
  }

  /** chown before chmod: chown clears setuid/setgid. */
  private async fileMetadata(fd: number, header: TarHeader): Promise<void> {
    await fchown(fd, header.uid, header.gid);
    if ((header.mode & 0o7000) !== 0 || (header.mode & this.umask) !== 0) await fchmod(fd, header.mode);
    await futimes(fd, seconds(header.mtimeNs), seconds(header.mtimeNs));
  }

  private async symlink(canonical: string, header: TarHeader): Promise<void> {
    const abs = this.abs(canonical);
    await fsp.symlink(header.linkname, abs);
    await fsp.lchown(abs, header.uid, header.gid);
    await fsp.lutimes(abs, seconds(header.mtimeNs), seconds(header.mtimeNs));
  }

  private async special(canonical: string, header: TarHeader): Promise<void> {
    const abs = this.abs(canonical);
    const type = header.type as 'char-device' | 'block-device' | 'fifo';
    await mknod(abs, type, header.mode, header.devMajor, header.devMinor);
    await fsp.lchown(abs, header.uid, header.gid);
    await fsp.chmod(abs, header.mode);
    await fsp.lutimes(abs, seconds(header.mtimeNs), seconds(header.mtimeNs));
  }

  /** A hard link to an object inside the target; the target's last component is not followed. */
  private async hardlink(canonical: string, header: TarHeader): Promise<void> {
    const name = header.name;
    let targetRel: string;
    try {
      targetRel = normalizeEntryName(header.linkname);
    } catch {
      throw new UnsafeEntryError(name, `hard link target ${JSON.stringify(header.linkname)} contains '..'`);
    }
    if (targetRel === '') throw new UnsafeEntryError(name, 'hard link to the target root');
    const targetParent = await this.resolveDir(parentOf(targetRel), name, false);
    const missing = new LayerFormatError(`entry ${JSON.stringify(name)}: hard link target ${JSON.stringify(header.linkname)} does not exist`);
    if (targetParent === undefined) throw missing;
    const target = joinRel(targetParent, baseName(targetRel));
    await this.waitFor(target);
    try {
      await fsp.link(this.abs(target), this.abs(canonical));
    } catch (err) {
      if (errno(err) === 'ENOENT') throw missing;
      if (errno(err) === 'EPERM') throw new LayerFormatError(`entry ${JSON.stringify(name)}: hard link target ${JSON.stringify(header.linkname)} is a directory`);
      throw err;
    }
  }

  private whiteoutName(rel: string, entry: string): string {
    const name = baseName(rel).slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw new UnsafeEntryError(entry, `whiteout of ${JSON.stringify(name)} does not name an entry`);
    return name;
  }

  private async whiteout(rel: string, entry: string): Promise<void> {
    const name = this.whiteoutName(rel, entry);
    const overlay = this.opts.mode === 'overlay-upper';
    // In a plain directory a missing parent means there is nothing to delete.
    const parent = await this.resolveDir(parentOf(rel), entry, overlay);
    if (parent === undefined) return;
    const canonical = joinRel(parent, name);
    await this.remove(canonical);
    this.unpacked.delete(canonical);
    if (overlay) {
      await mknod(this.abs(canonical), 'char-device', 0, 0, 0);
      this.unpacked.add(canonical);
    }
  }

  private async opaque(dirRel: string, entry: string): Promise<void> {
    const dir = await this.resolveDir(dirRel, entry, true);
    for (const name of await fsp.readdir(this.abs(dir))) {
      const child = joinRel(dir, name);
      if (!this.unpacked.has(child)) await this.remove(child);
    }
    if (this.opts.mode === 'overlay-upper') {
      const key = this.opts.userxattr ? 'user.overlay.opaque' : 'trusted.overlay.opaque';
      this.xattrs.set(dir, new Map([...(this.xattrs.get(dir) ?? []), [key, Buffer.from('y')]]));
    }
  }

  /**
   * Directory ownership, modes, xattrs (for all entries, in one process) and
   * finally directory mtimes: last, because writing inside a directory
   * changes its mtime.
   */
  private async finishDirectories(): Promise<void> {
    await Promise.all([...this.dirs.values()].map(async ({ abs, header }) => {
      await fsp.lchown(abs, header.uid, header.gid);
      await fsp.chmod(abs, header.mode);
    }));
    await writeXattrs([...this.xattrs].map(([canonical, xattrs]) => [this.abs(canonical), xattrs] as [string, Xattrs]));
    await Promise.all([...this.dirs.values()].map(({ abs, header }) => fsp.utimes(abs, seconds(header.mtimeNs), seconds(header.mtimeNs))));
  }
}

function remainder(chunks: Buffer[], written: number): Buffer[] {
  const rest: Buffer[] = [];
  for (const c of chunks) {
    if (written >= c.length) written -= c.length;
    else {
      rest.push(c.subarray(written));
      written = 0;
    }
  }
  return rest;
}

/**
 * Applies a layer (tar, gzip or zstd, recognised from its first bytes) to
 * `target`. On error the target is left as it is for the caller to discard.
 */
export async function applyLayer(stream: AsyncIterable<Buffer>, target: string, opts: ApplyOptions): Promise<ApplyResult> {
  const root = await fsp.realpath(target);
  return new LayerApplier(root, opts).apply(stream);
}
