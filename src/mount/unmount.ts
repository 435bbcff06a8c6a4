import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { invalidArgument } from '../snapshots/errors';
import { isBusy, runMountTool } from './command';
import { isMountPoint } from './mountinfo';

export interface UnmountOptions {
  /** Attempts while the target is busy before detaching it lazily. */
  busyRetries?: number;
  retryDelayMs?: number;
}

/** As containerd's unmount: 50 tries, 50 ms apart, while the mount is busy. */
const DEFAULT_BUSY_RETRIES = 50;
const DEFAULT_RETRY_DELAY_MS = 50;

/**
 * Unmounts everything mounted at `target` (stacked mounts and their
 * submounts); a target with nothing mounted is left as it is. A mount that
 * stays busy is detached lazily as a last resort, so the target is free when
 * this resolves, though the file system lives on until its last user leaves.
 */
export async function unmount(target: string, options: UnmountOptions = {}): Promise<void> {
  if (!path.isAbsolute(target)) throw invalidArgument(`unmount target must be an absolute path, got ${JSON.stringify(target)}`);
  const retries = options.busyRetries ?? DEFAULT_BUSY_RETRIES;
  const delayMs = options.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS;
  let busyAttempts = 0;
  while (await isMountPoint(target)) {
    try {
      await runMountTool('umount', busyAttempts < retries ? ['-R', target] : ['-R', '-l', target]);
    } catch (err) {
      if (!isBusy(err) || busyAttempts >= retries) throw err;
      busyAttempts++;
      await sleep(delayMs);
    }
  }
}
