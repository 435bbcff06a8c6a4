/**
 * Commit's pass over a layer in object-store mode: stubs are counted, and
 * regular files that still hold their data (written through a mount by
 * containerd's walking differ, or by a container) move into the store, so
 * the store's saving does not depend on which differ unpacked the layer.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { getAttributeSync, listAttributesSync, setAttributeSync } from '@napi-rs/xattr';
import { forEachEntry } from '../fsutil/walk';
import { UniqueNames } from '../fsutil/unique-names';
import { DIGEST_XATTR, METACOPY_XATTR, objectOfRedirect, REDIRECT_XATTR } from './names';
import { createStub, type ObjectFiles } from './object-files';

/** Temporary names of stubs being made, beside the files they replace. */
const stubNames = new UniqueNames();

/** A stub whose object is gone: the layer cannot be read and must not be committed. */
export class MissingObjectError extends Error {}

/**
 * What overlay's metacopy xattrs make of the regular file `file`: a stub of
 * the store (with the object it names), another metacopy file (overlay's
 * own copy-up of a chmod: its data is in the layer below, not in the
 * store), or a plain file holding its data.
 */
function metacopyKind(file: string): { object: string } | 'metacopy' | 'plain' {
  if (getAttributeSync(file, METACOPY_XATTR) === null) return 'plain';
  const redirect = getAttributeSync(file, REDIRECT_XATTR);
  const object = redirect === null ? undefined : objectOfRedirect(redirect);
  return object === undefined ? 'metacopy' : { object };
}

/** The object a stub at `file` points to; undefined for a file that is no store stub. */
export function stubObject(file: string): string | undefined {
  const kind = metacopyKind(file);
  return typeof kind === 'object' ? kind.object : undefined;
}

/** The objects the stubs under `root` point to (name -> content size). */
export async function layerObjects(root: string): Promise<Map<string, number>> {
  const objects = new Map<string, number>();
  await forEachEntry(root, (file, entry) => {
    if (!entry.isFile()) return;
    const name = stubObject(file);
    if (name !== undefined) objects.set(name, fs.lstatSync(file).size);
  });
  return objects;
}

async function sha256Of(file: string): Promise<Buffer> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest();
}

/**
 * Turns the layer under `root` into stubs over `files` and returns the
 * objects it references (name -> size). `beforeAdopting` runs once, before
 * the first file moves to the store. Fails with MissingObjectError when a
 * stub's object is missing, which no crash leaves (objects are complete
 * before the stubs that name them are made): the store was tampered with.
 */
export async function sealLayer(root: string, files: ObjectFiles, beforeAdopting: () => void): Promise<Map<string, number>> {
  const objects = new Map<string, number>();
  /** Stubs made for inodes with several links, so their other paths link to the same stub. */
  const stubsByInode = new Map<string, string>();
  const adopted: string[] = [];
  let adopting = false;
  await forEachEntry(root, async (file, entry) => {
    if (!entry.isFile()) return;
    const kind = metacopyKind(file);
    const st = fs.lstatSync(file);
    if (typeof kind === 'object') {
      if (!files.exists(kind.object)) throw new MissingObjectError(`${file} points to object ${kind.object}, which is missing`);
      objects.set(kind.object, st.size);
      return;
    }
    if (st.size === 0 || kind === 'metacopy') return;
    const inode = `${st.dev}:${st.ino}`;
    const linkedStub = st.nlink > 1 ? stubsByInode.get(inode) : undefined;
    const temp = path.join(path.dirname(file), stubNames.next('.strata-stub-'));
    if (linkedStub !== undefined) {
      fs.linkSync(linkedStub, temp);
    } else {
      const sha256 = await sha256Of(file);
      if (!adopting) {
        beforeAdopting();
        adopting = true;
      }
      const object = files.adopt(file, sha256);
      if (object.adopted) adopted.push(object.name);
      objects.set(object.name, st.size);
      createStub(temp, object.name, {
        size: st.size, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid,
        atimeSeconds: st.atimeMs / 1000, mtimeSeconds: st.mtimeMs / 1000, chmod: true,
      });
      // The file's own xattrs, not the digest adopt gave the (now object) inode.
      for (const xattr of listAttributesSync(file)) {
        const value = xattr === DIGEST_XATTR ? null : getAttributeSync(file, xattr);
        if (value !== null) setAttributeSync(temp, xattr, value);
      }
      if (st.nlink > 1) stubsByInode.set(inode, file);
    }
    fs.renameSync(temp, file);
  });
  // Only now: until every path of an adopted inode was replaced, a path still showed it.
  for (const name of adopted) files.seal(name);
  return objects;
}
