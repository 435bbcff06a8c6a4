import * as path from 'node:path';
import type { Mount } from '../../snapshots/types';

function shellQuote(word: string): string {
  return /^[\w./:=,@+%-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** One `mount` command per mount, runnable in a shell, as `ctr snapshot mounts` prints them. */
export function mountCommands(target: string, mounts: Mount[]): string[] {
  return mounts.map((m) => {
    const words = ['mount', '-t', m.type, m.source, path.join(target, m.target ?? '')];
    if (m.options.length > 0) words.push('-o', m.options.join(','));
    return words.map(shellQuote).join(' ');
  });
}
