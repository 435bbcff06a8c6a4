import { execFile } from 'node:child_process';

/** A util-linux mount tool that exited with an error; `stderr` holds its explanation. */
export class MountCommandError extends Error {
  constructor(
    readonly command: string,
    readonly args: readonly string[],
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${command} ${args.join(' ')} failed (exit ${exitCode}): ${stderr.trim() || 'no message'}`);
    this.name = 'MountCommandError';
  }

  /** umount(8) reports EBUSY only through its message. */
  get busy(): boolean {
    return /busy/i.test(this.stderr);
  }
}

/** Runs mount(8) or umount(8); resolves when it exits 0. */
export function runMountTool(command: 'mount' | 'umount', args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, encoding: 'utf8' }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new MountCommandError(command, args, code, stderr || err.message));
    });
  });
}
