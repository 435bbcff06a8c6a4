/**
 * Writes the entries of a tar stream into a directory, one after another,
 * with synchronous system calls, as GNU tar does. It runs in the apply
 * worker (see applier.ts), so blocking calls stall no one; one syscall costs
 * a few microseconds, where the same call through libuv's thread pool costs
 * a round trip between threads, which dominated the apply time.
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
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { currentUmask, modeNeedsChmod } from '../fsutil/mode';
import { addToManifest, markStubs } from '../objects/manifest';
import { createStub, ObjectFiles, writeAll } from '../objects/object-files';
import type { ApplyOptions } from './applier';
import { LayerFormatError, UnsafeEntryError } from './errors';
import type { Xattrs } from './file-info';
import { baseName, joinRel, normalizeEntryName, parentOf } from './paths';
import { mknodAll, type SpecialNode } from './special-files';
import type { TarHeader } from './tar-header';
import { DEFAULT_MAX_METADATA, TarReader } from './tar-reader';
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from './writer';
import { escapeOverlayXattrs, writeXattrs } from './xattrs';

const MAX_SYMLINKS = 40;
/** O_EXCL: never write through whatever already sits at the path (a symlink included). */
const CREATE_FILE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;

/** Object-store mode: files up to this size are held in memory until hashed (see stub). */
const BUFFERED_FILE_BYTES = 256 * 1024;

const seconds = (ns: bigint) => Number(ns) / 1e9;
const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

export class Unpacker {
  private readonly umask = currentUmask();
  /** Canonical relative paths this layer created; an opaque marker keeps them. */
  private readonly unpacked = new Set<string>();
  /** Directories this apply made: nothing can already exist inside them. */
  private readonly createdDirs = new Set<string>();
  /** Resolved directories (entry path -> canonical path), valid until a directory or symlink is removed. */
  private resolved = new Map<string, string>();
  /** Directory metadata, set at the end (see finishDirectories). */
  private readonly dirs = new Map<string, TarHeader>();
  private readonly xattrs = new Map<string, Xattrs>();
  /**
   * Special files (and overlay whiteouts) not made yet, with their metadata:
   * made in one batch before anything looks at the disk again (see
   * makeSpecials), so entries in between cannot tell.
   */
  private specials: Array<{ node: SpecialNode; header?: TarHeader }> = [];

  private readonly rootSlash: string;
  private readonly objects?: ObjectFiles;
  /** Object-store mode: the object each stub (or hard link of one) at a canonical path names. */
  private readonly stubs = new Map<string, string>();
  /** And each object's size. */
  private readonly objectSizes = new Map<string, number>();

  constructor(
    private readonly root: string,
    private readonly opts: ApplyOptions,
  ) {
    this.rootSlash = root.endsWith('/') ? root : `${root}/`;
    if (opts.objects) {
      markStubs(opts.objects.marker);
      this.objects = new ObjectFiles(opts.objects.dir);
    }
  }

  /** Applies every entry of the (uncompressed) tar stream; returns the number of entries. */
  apply(tar: Iterable<Buffer>): number {
    const reader = new TarReader(tar, this.opts.maxMetadataSize ?? DEFAULT_MAX_METADATA);
    let entries = 0;
    for (let header = reader.next(); header; header = reader.next()) {
      entries++;
      if (this.opts.entriesStarted) Atomics.store(this.opts.entriesStarted, 0, entries);
      this.entry(header, reader);
    }
    this.makeSpecials();
    this.finishDirectories();
    if (this.opts.objects) {
      addToManifest(this.opts.objects.manifest, new Map([...this.stubs.values()].map((name) => [name, this.objectSizes.get(name)!])));
    }
    return entries;
  }

  private abs(canonical: string): string {
    // Both parts are clean (the root from realpath, canonical paths built
    // from normalised names): plain concatenation, no path.join, which
    // showed in profiles at several calls per entry.
    return canonical === '' ? this.root : this.rootSlash + canonical;
  }

  // ---- paths -------------------------------------------------------------

  /**
   * The canonical path of directory `rel` inside the root: symlinks are
   * followed as if the root were '/', and one that climbs above the root is
   * refused. Missing directories are created when `create` is set.
   */
  private resolveDir(rel: string, entry: string, create: true, depth?: number): string;
  private resolveDir(rel: string, entry: string, create: boolean, depth?: number): string | undefined;
  private resolveDir(rel: string, entry: string, create: boolean, depth = 0): string | undefined {
    if (rel === '') return '';
    const known = this.resolved.get(rel);
    if (known !== undefined) return known;
    if (depth > MAX_SYMLINKS) throw new UnsafeEntryError(entry, 'too many levels of symbolic links');
    const parent = this.resolveDir(parentOf(rel), entry, create, depth);
    if (parent === undefined) return undefined;
    const canonical = joinRel(parent, baseName(rel));
    const abs = this.abs(canonical);
    let result = canonical;
    this.makeSpecials();
    const st = fs.lstatSync(abs, { throwIfNoEntry: false });
    if (!st) {
      if (!create) return undefined;
      fs.mkdirSync(abs, { mode: 0o755 });
      this.createdDirs.add(canonical);
      this.inheritLowerDir(canonical);
    } else if (st.isSymbolicLink()) {
      const target = fs.readlinkSync(abs);
      // An absolute target means the target root, as in a container; a
      // relative one must not climb above the root.
      const joined = path.posix.normalize(target.startsWith('/') ? target : joinRel(parent, target));
      if (joined === '..' || joined.startsWith('../')) {
        throw new UnsafeEntryError(entry, `parent ${JSON.stringify(rel)} is a symlink to ${JSON.stringify(target)}, which leads outside the target`);
      }
      const followed = this.resolveDir(normalizeEntryName(joined), entry, create, depth + 1);
      if (followed === undefined) return undefined;
      result = followed;
    } else if (!st.isDirectory()) {
      throw new LayerFormatError(`entry ${JSON.stringify(entry)}: parent ${JSON.stringify(rel)} is not a directory`);
    }
    this.resolved.set(rel, result);
    return result;
  }

  /** Removes whatever is at `canonical` (never following a symlink there). */
  private remove(canonical: string): void {
    this.makeSpecials();
    const st = fs.lstatSync(this.abs(canonical), { throwIfNoEntry: false });
    if (!st) return;
    if (st.isDirectory() || st.isSymbolicLink()) this.resolved = new Map();
    fs.rmSync(this.abs(canonical), { recursive: true, force: true });
    for (const pending of [this.dirs, this.xattrs, this.stubs]) {
      for (const key of pending.keys()) if (key === canonical || key.startsWith(`${canonical}/`)) pending.delete(key);
    }
  }

  /** Prepares `canonical` for a new object: clears an old one unless it is a directory that stays one. */
  private clear(canonical: string, keepDirectory: boolean): boolean {
    if (this.createdDirs.has(parentOf(canonical)) && !this.unpacked.has(canonical)) return false;
    this.makeSpecials();
    const st = fs.lstatSync(this.abs(canonical), { throwIfNoEntry: false });
    if (!st) return false;
    if (keepDirectory && st.isDirectory()) return true;
    this.remove(canonical);
    return false;
  }

  // ---- entries -----------------------------------------------------------

  private entry(header: TarHeader, reader: TarReader): void {
    const rel = normalizeEntryName(header.name);
    if (rel === '') return; // the root itself: containerd skips it too
    const base = baseName(rel);
    if (base === OPAQUE_MARKER) return this.opaque(parentOf(rel), header.name);
    if (base.startsWith(WHITEOUT_PREFIX)) return this.whiteout(rel, header.name);

    const parent = this.resolveDir(parentOf(rel), header.name, true);
    const canonical = joinRel(parent, base);
    if (header.type === 'directory') {
      if (!this.clear(canonical, true)) {
        fs.mkdirSync(this.abs(canonical), { mode: 0o700 });
        this.createdDirs.add(canonical);
      }
      this.resolved.set(rel, canonical);
      this.dirs.set(canonical, header);
    } else {
      this.clear(canonical, false);
      switch (header.type) {
        case 'file':
          this.file(canonical, header, reader);
          break;
        case 'symlink':
          this.symlink(canonical, header);
          break;
        case 'link':
          this.hardlink(canonical, header);
          break;
        default:
          this.specials.push({
            node: { path: this.abs(canonical), type: header.type as SpecialNode['type'], mode: header.mode, major: header.devMajor, minor: header.devMinor },
            header,
          });
      }
    }
    if (header.xattrs.size > 0) this.xattrs.set(canonical, this.opts.escapeOverlayXattrs ? escapeOverlayXattrs(header.xattrs) : header.xattrs);
    this.unpacked.add(canonical);
  }

  /** Content goes to disk in the pieces it arrived in: nothing is buffered. */
  private file(canonical: string, header: TarHeader, reader: TarReader): void {
    // Empty files stay as they are: a stub would save nothing.
    if (this.objects && header.size > 0) return this.stub(canonical, header, reader, this.objects);
    const fd = fs.openSync(this.abs(canonical), CREATE_FILE, header.mode & 0o777);
    try {
      for (let c = reader.readBody(); c; c = reader.readBody()) {
        writeAll(fd, c);
      }
      // chown before chmod: chown clears setuid/setgid.
      fs.fchownSync(fd, header.uid, header.gid);
      if (modeNeedsChmod(header.mode, this.umask)) fs.fchmodSync(fd, header.mode);
      fs.futimesSync(fd, seconds(header.mtimeNs), seconds(header.mtimeNs));
    } finally {
      fs.closeSync(fd);
    }
  }

  /**
   * Content goes once into the object store, hashed on the way; the layer
   * gets a stub. A small file is hashed before anything is written, so
   * content the store has already costs no write at all.
   */
  private stub(canonical: string, header: TarHeader, reader: TarReader, objects: ObjectFiles): void {
    const hash = createHash('sha256');
    let name: string;
    if (header.size <= BUFFERED_FILE_BYTES) {
      const chunks: Buffer[] = [];
      for (let c = reader.readBody(); c; c = reader.readBody()) {
        hash.update(c);
        // The reader's pieces are views of memory it reuses once it reads on;
        // the last one (most often the only one) stays valid until then.
        chunks.push(reader.bodyRemaining === 0 ? c : Buffer.from(c));
      }
      name = objects.storeContent(hash.digest(), chunks);
    } else {
      const temp = objects.createTemp();
      try {
        for (let c = reader.readBody(); c; c = reader.readBody()) {
          hash.update(c);
          writeAll(temp.fd, c);
        }
      } catch (err) {
        fs.closeSync(temp.fd);
        fs.unlinkSync(temp.path);
        throw err;
      }
      fs.closeSync(temp.fd);
      name = objects.keep(temp.path, hash.digest());
    }
    const mtime = seconds(header.mtimeNs);
    this.stubs.set(canonical, name);
    this.objectSizes.set(name, header.size);
    createStub(this.abs(canonical), name, {
      size: header.size, mode: header.mode, uid: header.uid, gid: header.gid,
      atimeSeconds: mtime, mtimeSeconds: mtime, chmod: modeNeedsChmod(header.mode, this.umask),
    });
  }

  private symlink(canonical: string, header: TarHeader): void {
    const abs = this.abs(canonical);
    fs.symlinkSync(header.linkname, abs);
    fs.lchownSync(abs, header.uid, header.gid);
    fs.lutimesSync(abs, seconds(header.mtimeNs), seconds(header.mtimeNs));
  }

  /** Makes the pending special files, then sets their owners, modes and times. */
  private makeSpecials(): void {
    if (this.specials.length === 0) return;
    const batch = this.specials;
    this.specials = [];
    mknodAll(batch.map((s) => s.node));
    for (const { node, header } of batch) {
      if (!header) continue;
      fs.lchownSync(node.path, header.uid, header.gid);
      // chown clears the setuid/setgid bits mknod -m set.
      fs.chmodSync(node.path, header.mode);
      fs.lutimesSync(node.path, seconds(header.mtimeNs), seconds(header.mtimeNs));
    }
  }

  /**
   * A hard link to an object inside the target; the target's last component
   * is not followed. As containerd does, the link entry's owner, mode and
   * times then apply to the shared inode (mode only when it is no symlink).
   */
  private hardlink(canonical: string, header: TarHeader): void {
    const name = header.name;
    let targetRel: string;
    try {
      targetRel = normalizeEntryName(header.linkname);
    } catch {
      throw new UnsafeEntryError(name, `hard link target ${JSON.stringify(header.linkname)} contains '..'`);
    }
    if (targetRel === '') throw new UnsafeEntryError(name, 'hard link to the target root');
    const targetParent = this.resolveDir(parentOf(targetRel), name, false);
    const missing = new LayerFormatError(`entry ${JSON.stringify(name)}: hard link target ${JSON.stringify(header.linkname)} does not exist`);
    if (targetParent === undefined) throw missing;
    const target = joinRel(targetParent, baseName(targetRel));
    this.makeSpecials();
    const abs = this.abs(canonical);
    try {
      fs.linkSync(this.abs(target), abs);
    } catch (err) {
      if (errno(err) === 'ENOENT') throw missing;
      if (errno(err) === 'EPERM') throw new LayerFormatError(`entry ${JSON.stringify(name)}: hard link target ${JSON.stringify(header.linkname)} is a directory`);
      throw err;
    }
    // The link keeps the object in use should the stub's first path go.
    const object = this.stubs.get(target);
    if (object !== undefined) this.stubs.set(canonical, object);
    fs.lchownSync(abs, header.uid, header.gid);
    // chown before chmod: chown clears setuid/setgid.
    if (!fs.lstatSync(abs).isSymbolicLink()) fs.chmodSync(abs, header.mode);
    fs.lutimesSync(abs, seconds(header.mtimeNs), seconds(header.mtimeNs));
  }

  private whiteoutName(rel: string, entry: string): string {
    const name = baseName(rel).slice(WHITEOUT_PREFIX.length);
    if (name === '' || name === '.' || name === '..') throw new UnsafeEntryError(entry, `whiteout of ${JSON.stringify(name)} does not name an entry`);
    return name;
  }

  private whiteout(rel: string, entry: string): void {
    const name = this.whiteoutName(rel, entry);
    const overlay = this.opts.mode === 'overlay-upper';
    // In a plain directory a missing parent means there is nothing to delete.
    const parent = this.resolveDir(parentOf(rel), entry, overlay);
    if (parent === undefined) return;
    const canonical = joinRel(parent, name);
    this.remove(canonical);
    this.unpacked.delete(canonical);
    if (overlay) {
      this.specials.push({ node: { path: this.abs(canonical), type: 'char-device', mode: 0, major: 0, minor: 0 } });
      this.unpacked.add(canonical);
    }
  }

  private opaque(dirRel: string, entry: string): void {
    const dir = this.resolveDir(dirRel, entry, true);
    this.makeSpecials();
    for (const name of fs.readdirSync(this.abs(dir))) {
      const child = joinRel(dir, name);
      if (!this.unpacked.has(child)) this.remove(child);
    }
    if (this.opts.mode === 'overlay-upper') {
      const key = this.opts.userxattr ? 'user.overlay.opaque' : 'trusted.overlay.opaque';
      this.xattrs.set(dir, new Map([...(this.xattrs.get(dir) ?? []), [key, Buffer.from('y')]]));
    }
  }

  /**
   * A directory the layer implies but does not list, made in an overlay
   * upper dir, would show as 0755 root in the merged view, hiding what the
   * lower layers say: it takes the mode, owner and mtime of the first lower
   * layer that has it, as containerd's mkparent does, unless that layer
   * holds something else there. Lower paths are read without following
   * their symlinks, so nothing outside the layers is ever looked at.
   */
  private inheritLowerDir(canonical: string): void {
    const parts = canonical.split('/');
    for (const lower of this.opts.lowerDirs ?? []) {
      let dir = lower;
      let st: fs.BigIntStats | undefined;
      for (const part of parts) {
        dir = `${dir}/${part}`;
        st = fs.lstatSync(dir, { bigint: true, throwIfNoEntry: false });
        if (!st?.isDirectory()) break;
      }
      if (!st) continue;
      if (!st.isDirectory()) return;
      this.dirs.set(canonical, {
        name: canonical, type: 'directory', mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: 0,
        mtimeNs: st.mtimeNs, linkname: '', devMajor: 0, devMinor: 0, xattrs: new Map(),
      });
      return;
    }
  }

  /**
   * Directory ownership, modes, xattrs (for all entries) and
   * finally directory mtimes: last, because writing inside a directory
   * changes its mtime.
   */
  private finishDirectories(): void {
    for (const [canonical, header] of this.dirs) {
      const abs = this.abs(canonical);
      fs.lchownSync(abs, header.uid, header.gid);
      fs.chmodSync(abs, header.mode);
    }
    writeXattrs([...this.xattrs].map(([canonical, xattrs]) => [this.abs(canonical), xattrs] as [string, Xattrs]));
    for (const [canonical, header] of this.dirs) fs.utimesSync(this.abs(canonical), seconds(header.mtimeNs), seconds(header.mtimeNs));
  }
}
