import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';

export interface RootLock {
  release(): Promise<void>;
}

/**
 * Ensures one server per root. The lock is a listening socket in Linux's
 * abstract namespace named after the root's real path: the kernel drops it
 * when the process dies, even by kill -9, so a crash never leaves a stale lock.
 */
export async function lockRoot(root: string): Promise<RootLock> {
  const realRoot = await fs.realpath(root);
  const name = `\0strata-root-${createHash('sha256').update(realRoot).digest('hex').slice(0, 32)}`;
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(`another strata server is already serving root ${realRoot}`)
          : err,
      ),
    );
    server.listen(name, () => resolve());
  });
  server.unref();
  return { release: () => new Promise((resolve) => server.close(() => resolve())) };
}
