import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import * as path from 'node:path';
import { ensureContainerd, type Containerd } from '../../support/containerd';
import { scaledMs } from '../../support/time-scale';

/**
 * Runs the 1.7 `ctr` against `containerd` in its namespace with stdout
 * streamed into `outFile`, for commands that print binary data:
 * `ctr snapshot diff` writes the whole layer blob to stdout.
 */
export async function ctrToFile(containerd: Containerd, args: string[], outFile: string, timeoutMs = scaledMs(60_000)): Promise<void> {
  const ctr = path.join(await ensureContainerd(), 'ctr');
  const out = openSync(outFile, 'w');
  let stderr = '';
  try {
    const child = spawn(ctr, ['--address', containerd.address, '-n', containerd.namespace, ...args], {
      stdio: ['ignore', out, 'pipe'],
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    clearTimeout(timer);
    if (code !== 0) throw new Error(`ctr ${args.join(' ')} exited ${code ?? signal}: ${stderr}`);
  } finally {
    closeSync(out);
  }
}
