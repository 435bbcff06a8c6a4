/**
 * The object directory on disk, with synchronous calls only: it is used by
 * the apply worker (see changeset/unpacker.ts), which writes one entry after
 * another with blocking system calls, and by Commit's layer scan.
 *
 * An object is written once and never changed. Its digest xattr, set
 * once all its bytes are there, marks it complete: a name taken by a
 * complete object is reused (after checking the digest), one taken by an
 * incomplete object (a write a crash cut short) is replaced whole by a
 * rename. A small content is written straight under its name; a large one
 * (streamed before its digest is known) goes through a temporary file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { getAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { UniqueNames } from '../fsutil/unique-names';
import { DIGEST_XATTR, FANOUT_DIRS, METACOPY_XATTR, objectName, REDIRECT_XATTR, redirectTo } from './names';

/** Under the object directory; never a valid fan-out name (those are one character). */
const TEMP_DIR = '.incoming';
const OBJECT_MODE = 0o400;
const DIR_MODE = 0o700;
const CREATE_NEW = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL;
const NO_VALUE = Buffer.alloc(0);

const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** What a stub shows of the file it stands for. */
export interface StubMetadata {
  size: number;
  mode: number;
  uid: number;
  gid: number;
  atimeSeconds: number;
  mtimeSeconds: number;
  /** Also set the mode explicitly: it has setuid/setgid/sticky bits or bits the umask would clear. */
  chmod: boolean;
}

export class ObjectCollisionError extends Error {}

export class ObjectFiles {
  readonly tempDir: string;
  private readonly tempNames = new UniqueNames();

  constructor(readonly dir: string) {
    this.tempDir = path.join(dir, TEMP_DIR);
  }

  objectPath(name: string): string {
    return `${this.dir}/${name}`;
  }

  /** Makes the directory and its fan-out directories, where missing. */
  create(): void {
    for (const fanout of FANOUT_DIRS) fs.mkdirSync(path.join(this.dir, fanout), { recursive: true, mode: DIR_MODE });
  }

  /**
   * The object for content already in memory (`chunks`, hashed to
   * `sha256`), written straight under its name when new: one file created,
   * no temporary name. Its digest xattr, set last, marks it complete. An
   * object found without one is a write cut short by a crash, or one this
   * process is still making; it is replaced whole by a rename, so no stub
   * can ever see part of it.
   */
  storeContent(sha256: Buffer, chunks: Buffer[]): string {
    const name = objectName(sha256);
    // Looked up first: a taken name then costs no failed open (an exception in Node).
    if (this.complete(name, sha256)) return name;
    const target = this.objectPath(name);
    let fd: number;
    try {
      fd = fs.openSync(target, CREATE_NEW, OBJECT_MODE);
    } catch (err) {
      if (errno(err) === 'ENOENT') {
        fs.mkdirSync(path.dirname(target), { recursive: true, mode: DIR_MODE });
        return this.storeContent(sha256, chunks);
      }
      if (errno(err) !== 'EEXIST') throw err;
      return this.complete(name, sha256) ? name : this.replace(name, sha256, chunks);
    }
    try {
      for (const chunk of chunks) writeAll(fd, chunk);
    } finally {
      fs.closeSync(fd);
    }
    setAttributeSync(target, DIGEST_XATTR, sha256);
    return name;
  }

  /** Writes the object anew under a temporary name and renames it over the one there. */
  private replace(name: string, sha256: Buffer, chunks: Buffer[]): string {
    const temp = this.createTemp();
    try {
      for (const chunk of chunks) writeAll(temp.fd, chunk);
    } finally {
      fs.closeSync(temp.fd);
    }
    setAttributeSync(temp.path, DIGEST_XATTR, sha256);
    this.renameIn(temp.path, name);
    return name;
  }

  /** A new, empty temporary file for content; the caller writes it and hands it to `keep`. */
  createTemp(): { path: string; fd: number } {
    return this.inTempDir((file) => ({ path: file, fd: fs.openSync(file, CREATE_NEW, OBJECT_MODE) }));
  }

  /** Runs `make` on a fresh temporary path, making the temporary directory (Cleanup removes it) when missing. */
  private inTempDir<T>(make: (file: string) => T): T {
    const file = `${this.tempDir}/${this.tempNames.next()}`;
    try {
      return make(file);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      fs.mkdirSync(this.tempDir, { recursive: true, mode: DIR_MODE });
      return make(file);
    }
  }

  /**
   * Makes the written temporary file the object for `sha256`, or drops it
   * for the one already there; returns its name. Two writers of the same new
   * content may both rename theirs in place: same bytes, and a stub names
   * the object, not its inode.
   */
  keep(tempPath: string, sha256: Buffer): string {
    const name = objectName(sha256);
    if (this.complete(name, sha256)) {
      fs.unlinkSync(tempPath);
      return name;
    }
    setAttributeSync(tempPath, DIGEST_XATTR, sha256);
    this.renameIn(tempPath, name);
    return name;
  }

  /**
   * Takes an existing file's inode as the object for `sha256` when the
   * store has no complete one (no data copied); returns the name and
   * whether the inode became the object. The caller replaces the file with
   * a stub, then calls `seal`.
   */
  adopt(file: string, sha256: Buffer): { name: string; adopted: boolean } {
    const name = objectName(sha256);
    if (this.complete(name, sha256)) return { name, adopted: false };
    setAttributeSync(file, DIGEST_XATTR, sha256);
    const temp = this.inTempDir((path) => {
      fs.linkSync(file, path);
      return path;
    });
    this.renameIn(temp, name);
    return { name, adopted: true };
  }

  /** An adopted inode, no longer reachable from its layer, loses the layer's owner and mode. */
  seal(name: string): void {
    const file = this.objectPath(name);
    fs.lchownSync(file, 0, 0);
    fs.chmodSync(file, OBJECT_MODE);
  }

  exists(name: string): boolean {
    return fs.lstatSync(this.objectPath(name), { throwIfNoEntry: false }) !== undefined;
  }

  /**
   * Whether object `name` is there and complete (its digest xattr is set
   * last); a complete one with another digest is a name collision, refused.
   */
  private complete(name: string, sha256: Buffer): boolean {
    const stored = getAttributeSync(this.objectPath(name), DIGEST_XATTR);
    if (stored === null) return false;
    if (!sha256.equals(stored)) {
      throw new ObjectCollisionError(`object ${name} holds content with another digest than sha256:${sha256.toString('hex')}`);
    }
    return true;
  }

  private renameIn(source: string, name: string): void {
    const target = this.objectPath(name);
    try {
      fs.renameSync(source, target);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      // A fan-out directory gone missing: made again.
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: DIR_MODE });
      fs.renameSync(source, target);
    }
  }
}

export function writeAll(fd: number, chunk: Buffer): void {
  for (let off = 0; off < chunk.length;) off += fs.writeSync(fd, chunk, off, chunk.length - off);
}

/**
 * Creates, at `file` (which must not exist), a stub for object `name`: a
 * file with the metadata and size of the content but no data blocks, which
 * overlayfs (metacopy=on) reads from the object through its redirect.
 */
export function createStub(file: string, name: string, meta: StubMetadata): void {
  const fd = fs.openSync(file, CREATE_NEW, meta.mode & 0o777);
  try {
    fs.ftruncateSync(fd, meta.size);
    // chown before chmod: chown clears setuid/setgid.
    fs.fchownSync(fd, meta.uid, meta.gid);
    if (meta.chmod) fs.fchmodSync(fd, meta.mode);
    setAttributeSync(file, METACOPY_XATTR, NO_VALUE);
    setAttributeSync(file, REDIRECT_XATTR, redirectTo(name));
    fs.futimesSync(fd, meta.atimeSeconds, meta.mtimeSeconds);
  } finally {
    fs.closeSync(fd);
  }
}
