import { execFile } from 'node:child_process';

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

/** Runs `command` and resolves with its stdout when it exits 0. */
export function runTool(command: string, args: string[], options: RunOptions = {}): Promise<string> {
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
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new ToolError(command, args, code, stderr || err.message));
    });
  });
}
