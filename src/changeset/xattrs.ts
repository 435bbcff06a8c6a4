/**
 * Extended attributes through the `attr` tools, since Node has no xattr API.
 * Both directions cost one process per call, not per file: getfattr dumps a
 * whole tree, setfattr --restore applies a whole batch. Writing is
 * synchronous: its caller is the apply worker, which blocks on its system
 * calls anyway.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import type { Xattrs } from './file-info';

/** Files that carry xattrs, keyed by absolute path. */
export type TreeXattrs = Map<string, Xattrs>;

/** getfattr/setfattr quote unprintable bytes, '\' and '=' as \ooo. */
function quote(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text)) {
    out += byte <= 0x20 || byte >= 0x7f || byte === 0x5c || byte === 0x3d
      ? `\\${byte.toString(8).padStart(3, '0')}`
      : String.fromCharCode(byte);
  }
  return out;
}

function unquote(text: string): string {
  if (!text.includes('\\')) return text;
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && /^[0-7]{3}$/.test(text.slice(i + 1, i + 4))) {
      bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(...Buffer.from(text[i]));
    }
  }
  return Buffer.from(bytes).toString();
}

const cannotRun = (cmd: string, err: Error) => new Error(`cannot run ${cmd} (Debian package 'attr'): ${err.message}`);
const failed = (cmd: string, args: string[], code: number | null, stderr: string) =>
  new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`);

/** Runs a tool with no input, handing its output to `onLine` line by line. */
async function readTool(cmd: string, args: string[], onLine: (line: string) => void): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'close');
  const failedToStart = once(child, 'error').then(([err]) => {
    throw cannotRun(cmd, err as Error);
  });
  for await (const line of readline.createInterface({ input: child.stdout, crlfDelay: Infinity })) onLine(line);
  const [code] = (await Promise.race([exited, failedToStart])) as [number | null];
  if (code !== 0) throw failed(cmd, args, code, stderr);
}

/** All xattrs of every object under `root` (root included), symlinks not followed. */
export async function readTreeXattrs(root: string): Promise<TreeXattrs> {
  const result: TreeXattrs = new Map();
  let current: Xattrs | undefined;
  await readTool('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', root], (line) => {
    if (line.startsWith('# file: ')) {
      current = new Map();
      result.set(unquote(line.slice(8)), current);
    } else if (line !== '' && current) {
      const eq = line.indexOf('=');
      const name = unquote(eq < 0 ? line : line.slice(0, eq));
      const value = eq < 0 ? '' : line.slice(eq + 1);
      current.set(name, Buffer.from(value.startsWith('0x') ? value.slice(2) : '', 'hex'));
    }
  });
  return result;
}

/** Sets xattrs on many objects (absolute paths) in one setfattr process; symlinks are not followed. */
export function writeXattrs(targets: Iterable<[string, Xattrs]>): void {
  let dump = '';
  for (const [file, xattrs] of targets) {
    if (xattrs.size === 0) continue;
    dump += `# file: ${quote(file)}\n`;
    for (const [name, value] of xattrs) dump += `${quote(name)}=0x${value.toString('hex')}\n`;
    dump += '\n';
  }
  if (dump === '') return;
  const args = ['-h', '--restore=-'];
  const result = spawnSync('setfattr', args, { input: dump, stdio: ['pipe', 'ignore', 'pipe'] });
  if (result.error) throw cannotRun('setfattr', result.error);
  if (result.status !== 0) throw failed('setfattr', args, result.status, result.stderr.toString());
}
