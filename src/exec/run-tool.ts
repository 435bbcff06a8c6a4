import { execFile, spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { isNotInstalled, missingTool, type Tool } from './tools';

/** A command-line tool (mount, dmsetup, losetup, mkfs...) that exited with an error; `stderr` holds its explanation. */
export class ToolError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} ${args.join(' ')} failed (exit ${exitCode}): ${stderr.trim() || 'no message'}`);
    this.name = 'ToolError';
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kills the tool when aborted; the promise then rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Runs `command` and resolves with its stdout when it exits 0. A tool that is
 * not installed rejects with FailedPrecondition naming its package.
 */
export function runTool(command: Tool, args: string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const execOptions = {
      encoding: 'utf8' as const,
      env: options.env ?? process.env,
      cwd: options.cwd,
      signal: options.signal,
      maxBuffer: 16 * 1024 * 1024,
    };
    execFile(command, args, execOptions, (err, stdout, stderr) => {
      if (err?.name === 'AbortError') return reject(err);
      if (!err) return resolve(stdout);
      if (isNotInstalled(err)) return reject(missingTool(command, err));
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new ToolError(command, args, code, stderr || err.message));
    });
  });
}

/** Runs `command` synchronously with `input` on stdin (for callers on a worker thread); throws like runTool. */
export function runToolSync(command: Tool, args: string[], input: Buffer): void {
  const result = spawnSync(command, args, { input, stdio: ['pipe', 'ignore', 'pipe'] });
  if (result.error) throw isNotInstalled(result.error) ? missingTool(command, result.error) : result.error;
  if (result.status !== 0) throw new ToolError(command, args, result.status, result.stderr.toString());
}

/** Starts `command` with piped stdio, for streaming filters; the caller handles its 'error' and exit. */
export function spawnTool(command: Tool, args: string[]): ChildProcessWithoutNullStreams {
  return spawn(command, args);
}
