/**
 * Extended attributes through the `attr` tools, since Node has no xattr API.
 * Both directions cost one process per call, not per file: getfattr dumps a
 * whole tree, setfattr --restore applies a whole batch.
 */
import { spawn } from 'node:child_process';
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

async function runTool(cmd: string, args: string[], input?: string, onLine?: (line: string) => void): Promise<void> {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  // A tool that does not read stdin may exit first: ignore EPIPE here, its exit status tells.
  child.stdin.on('error', () => undefined);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'close');
  const failedToStart = once(child, 'error').then(([err]) => {
    throw new Error(`cannot run ${cmd} (Debian package 'attr'): ${(err as Error).message}`);
  });
  child.stdin.end(input ?? '');
  if (onLine) {
    for await (const line of readline.createInterface({ input: child.stdout, crlfDelay: Infinity })) onLine(line);
  } else {
    child.stdout.resume();
  }
  const [code] = (await Promise.race([exited, failedToStart])) as [number | null];
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${code}): ${stderr.trim()}`);
}

/** All xattrs of every object under `root` (root included), symlinks not followed. */
export async function readTreeXattrs(root: string): Promise<TreeXattrs> {
  const result: TreeXattrs = new Map();
  let current: Xattrs | undefined;
  await runTool('getfattr', ['-R', '-P', '-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', '--', root], undefined, (line) => {
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
export async function writeXattrs(targets: Iterable<[string, Xattrs]>): Promise<void> {
  let dump = '';
  for (const [file, xattrs] of targets) {
    if (xattrs.size === 0) continue;
    dump += `# file: ${quote(file)}\n`;
    for (const [name, value] of xattrs) dump += `${quote(name)}=0x${value.toString('hex')}\n`;
    dump += '\n';
  }
  if (dump !== '') await runTool('setfattr', ['-h', '--restore=-'], dump);
}
