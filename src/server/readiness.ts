import { runTool } from '../exec/run-tool';
import type { Tool } from '../exec/tools';

/** The programs readiness notification runs: none outside systemd. */
export function readinessTools(): Tool[] {
  return process.env.NOTIFY_SOCKET ? ['systemd-notify'] : [];
}

/**
 * Tells systemd the server is ready (Type=notify units). Node cannot send on
 * a unix datagram socket, so this runs systemd-notify, which the unit allows
 * with NotifyAccess=all. Outside systemd (no NOTIFY_SOCKET) it does nothing.
 */
export function notifyReady(onError: (err: Error) => void): void {
  if (!process.env.NOTIFY_SOCKET) return;
  runTool('systemd-notify', ['--ready', `--pid=${process.pid}`]).catch(onError);
}
