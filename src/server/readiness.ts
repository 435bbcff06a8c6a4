import { execFile } from 'node:child_process';

/**
 * Tells systemd the server is ready (Type=notify units). Node cannot send on
 * a unix datagram socket, so this runs systemd-notify, which the unit allows
 * with NotifyAccess=all. Outside systemd (no NOTIFY_SOCKET) it does nothing.
 */
export function notifyReady(onError: (err: Error) => void): void {
  if (!process.env.NOTIFY_SOCKET) return;
  execFile('systemd-notify', ['--ready', `--pid=${process.pid}`], (err) => {
    if (err) onError(err);
  });
}
