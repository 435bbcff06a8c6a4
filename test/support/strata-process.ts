import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/package-root';
import { scaledMs } from './time-scale';

/** What `strata` runs once installed: the launcher of the bundled CLI. */
export const STRATA_BIN = path.join(PACKAGE_ROOT, 'dist', 'src', 'cli', 'launch.js');

export interface StrataProcess {
  child: ChildProcess;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<number | NodeJS.Signals>;
}

/** Starts `strata serve` as a child process (with `env`) and waits until its socket accepts connections. */
export async function spawnStrata(
  args: string[],
  address: string,
  timeoutMs = scaledMs(10_000),
  env: NodeJS.ProcessEnv = process.env,
): Promise<StrataProcess> {
  const child = spawn(process.execPath, [STRATA_BIN, 'serve', '--address', address, ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal!)),
  );
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!(await accepts(address))) {
    if (gone) throw new Error(`strata serve exited before listening: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`strata serve did not listen on ${address} within ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return { child, stderr: () => stderr, exited };
}

/** Whether a unix socket at `address` accepts a connection now. */
export function accepts(address: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(address);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
