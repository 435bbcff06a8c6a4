import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { STRATA_BIN } from '../support/strata-process';

/** The CLI, as `bin.strata` runs it. */
export const CLI = STRATA_BIN;

export interface CliResult {
  code: number | null;
  stdout: string;
  /** stdout as written, for binary output. */
  stdoutBytes: Buffer;
  stderr: string;
}

/** Runs the CLI; `input`, when given, is piped to its stdin. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, input?: Buffer): Promise<CliResult> {
  return runProcess(process.execPath, [CLI, ...args], env, input);
}

async function runProcess(command: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: Buffer): Promise<CliResult> {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: [input ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  child.stdin?.end(input);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  const stdoutBytes = Buffer.concat(stdout);
  return { code, stdout: stdoutBytes.toString('utf8'), stdoutBytes, stderr };
}

/**
 * Runs the CLI on a terminal (a pseudo-terminal from script(1)) with its
 * stdin redirected from `stdinFrom` when given; the terminal's output,
 * stdout and stderr together, comes back as `stdout`.
 */
export function runCliOnTerminal(args: string[], stdinFrom?: string): Promise<CliResult> {
  const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ') + (stdinFrom === undefined ? '' : ` < ${quote(stdinFrom)}`);
  return runProcess('script', ['-qec', command, '/dev/null']);
}

/** stderr lines that are not pino's JSON log records: what a person reads. */
export function messageLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line !== '')
    .filter((line) => {
      try {
        return typeof JSON.parse(line) !== 'object';
      } catch {
        return true;
      }
    });
}

function canConnect(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socket);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export interface RunningServe {
  child: ChildProcess;
  /** Sends SIGTERM (or `signal`) and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  stderr(): string;
}

/** Starts `strata serve` and resolves once its socket accepts connections. */
export async function startServe(args: string[], socket: string, timeoutMs = 15_000): Promise<RunningServe> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  const server: RunningServe = {
    child,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (!(await canConnect(socket))) {
    if (child.exitCode !== null) throw new Error(`strata serve exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      await server.stop('SIGKILL');
      throw new Error(`strata serve did not listen on ${socket} within ${timeoutMs} ms: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return server;
}
