/**
 * Device nodes and fifos through mknod(1): Node has no mknod API. Starting
 * a process from Node costs milliseconds, so nodes are made in batches:
 * one shell runs mknod for each of them.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type SpecialType = 'char-device' | 'block-device' | 'fifo';

export interface SpecialNode {
  path: string;
  type: SpecialType;
  mode: number;
  major: number;
  minor: number;
}

/** Five arguments per node: path, octal mode, then `p` or `c|b MAJOR MINOR`. */
const SCRIPT = 'while [ $# -gt 0 ]; do if [ "$3" = p ]; then mknod -m "$2" -- "$1" p; else mknod -m "$2" -- "$1" "$3" "$4" "$5"; fi || exit 1; shift 5; done';
/** Keeps one command line far below ARG_MAX even with 4 KiB paths. */
const NODES_PER_PROCESS = 256;

export async function mknodAll(nodes: SpecialNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i += NODES_PER_PROCESS) {
    const args = nodes.slice(i, i + NODES_PER_PROCESS).flatMap((n) => [
      n.path, (n.mode & 0o7777).toString(8), n.type === 'fifo' ? 'p' : n.type === 'char-device' ? 'c' : 'b', String(n.major), String(n.minor),
    ]);
    try {
      await run('sh', ['-c', SCRIPT, 'mknod-batch', ...args]);
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`mknod failed: ${(e.stderr || e.message).trim()}`);
    }
  }
}
