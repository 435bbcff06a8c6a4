/**
 * Device nodes and fifos through mknod(1): Node has no mknod API. They are
 * rare in layers (and whiteouts only appear in overlay-upper mode), so one
 * process per node is acceptable.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type SpecialType = 'char-device' | 'block-device' | 'fifo';

export async function mknod(file: string, type: SpecialType, mode: number, major = 0, minor = 0): Promise<void> {
  const args = ['-m', (mode & 0o7777).toString(8), '--', file];
  if (type === 'fifo') args.push('p');
  else args.push(type === 'char-device' ? 'c' : 'b', String(major), String(minor));
  try {
    await run('mknod', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`mknod ${file} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}
