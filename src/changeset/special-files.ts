/**
 * Device nodes and fifos. Node has no mknod API, and a process per node
 * (mknod(1)) costs milliseconds each: a layer deleting 300 files in an
 * overlay upper dir means 300 whiteout nodes. GNU tar (essential on
 * Debian) makes any number of nodes in one process: they are handed to it
 * as a header-only archive on stdin, under their absolute paths (-P).
 * Synchronous: the caller is the apply worker, which blocks on its system
 * calls anyway.
 */
import { runToolSync } from '../exec/run-tool';
import type { Tool } from '../exec/tools';
import { encodeHeader } from './tar-header';

/** The programs making special files runs. */
export const SPECIAL_FILE_TOOLS: Tool[] = ['tar'];

export type SpecialType = 'char-device' | 'block-device' | 'fifo';

export interface SpecialNode {
  /** Absolute, with no symlink or '..' in it (the caller resolved it). */
  path: string;
  type: SpecialType;
  mode: number;
  major: number;
  minor: number;
}

/**
 * Makes the nodes with exactly their modes (tar as root keeps the archive's
 * permissions, no umask), owned by the caller and dated now (-m): owners
 * and times are the caller's business.
 */
export function mknodAll(nodes: SpecialNode[]): void {
  if (nodes.length === 0) return;
  const archive = Buffer.concat([
    ...nodes.map((n) => encodeHeader({
      name: n.path, type: n.type, mode: n.mode & 0o7777, uid: 0, gid: 0, size: 0, mtimeNs: 0n,
      linkname: '', devMajor: n.major, devMinor: n.minor, xattrs: new Map(),
    })),
    Buffer.alloc(1024),
  ]);
  const args = ['-x', '-P', '-m', '--no-same-owner', '--same-permissions', '-f', '-'];
  runToolSync('tar', args, archive);
}
