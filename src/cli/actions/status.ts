import type { Command } from 'commander';
import { humanBytes } from '../../bytes';
import type { OverlayStatus } from '../../backends/overlay';
import type { ThinStatus } from '../../backends/thin';
import { fetchStatus, type ServerStatus } from '../../client/status-client';
import { clientAddress } from '../client';
import { printJson, printLines } from '../output';

/** Asks the server at --address for its status and prints it. */
export async function showStatus(opts: { json?: boolean }, command: Command): Promise<void> {
  const status = await fetchStatus(clientAddress(command));
  if (opts.json) printJson(status);
  else printLines(describeStatus(status));
}

function describeStatus(status: ServerStatus): string[] {
  const counts = ['active', 'view', 'committed'].map((kind) => `${kind} ${status.snapshots[kind] ?? 0}`).join(', ');
  const lines = [
    `Version: ${status.version}`,
    `PID: ${status.pid}`,
    `Uptime: ${humanDuration(status.uptimeSeconds)}`,
    `Backend: ${status.backend}`,
    `Root: ${status.root}`,
    `Metrics Address: ${status.metricsAddress ?? 'off'}`,
    `Snapshots: ${counts}`,
  ];
  if (status.backend === 'thin') lines.push(...describeThin(status.backendStatus as unknown as ThinStatus));
  else lines.push(...describeOverlay(status.backendStatus as unknown as OverlayStatus));
  return lines;
}

/** "3d 4h 5m 6s", largest unit first, zero units left out. */
function humanDuration(seconds: number): string {
  const units: Array<[string, number]> = [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]];
  let rest = Math.floor(seconds);
  const parts: string[] = [];
  for (const [unit, size] of units) {
    if (rest >= size) parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
  }
  return parts.join(' ') || '0s';
}

function describeOverlay(overlay: OverlayStatus): string[] {
  const options = [overlay.features.indexOff && 'index=off', overlay.features.userxattr && 'userxattr'].filter(Boolean);
  const store = overlay.objectStore;
  return [
    `Snapshots Directory: ${overlay.snapshotsDir}`,
    `Overlay Mount Options: ${options.join(', ') || 'none'}`,
    `Pending Deletions: ${overlay.pendingDeletions}`,
    `Object Store: ${store.mode} (object_store = "${store.configured}")${store.reason === undefined ? '' : `: ${store.reason}`}`,
    `Objects: ${store.objects}, ${humanBytes(store.bytes)}`,
  ];
}

/** Docker's DeviceSet.Status, field for field where strata has one. */
function describeThin(thin: ThinStatus): string[] {
  const space = (used: number, total: number) =>
    [`${humanBytes(used)} used`, `${humanBytes(total)} total`, `${humanBytes(total - used)} available`].join(', ');
  const devices = Object.entries(thin.devicesByState)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${state} ${count}`)
    .join(', ');
  return [
    `Pool Name: ${thin.poolName}`,
    `Pool Mode: ${thin.mode}`,
    `Pool Blocksize: ${humanBytes(thin.dataBlockBytes)}`,
    `Base Device Size: ${humanBytes(thin.baseDeviceSize)}`,
    `Backing Filesystem: ${thin.fsType}`,
    ...(thin.loopback
      ? [
          `Data file: ${thin.loopback.dataFile} (${thin.loopback.dataDevice})`,
          `Metadata file: ${thin.loopback.metadataFile} (${thin.loopback.metadataDevice})`,
        ]
      : []),
    `Data Space: ${space(thin.dataUsedBytes, thin.dataTotalBytes)}`,
    `Metadata Space: ${space(thin.metadataUsedBytes, thin.metadataTotalBytes)}`,
    `Min Free Space: ${'percent' in thin.minFreeSpace ? `${thin.minFreeSpace.percent}%` : humanBytes(thin.minFreeSpace.bytes)}`,
    `Devices: ${devices || 'none'}`,
    `Deferred Removals: ${thin.deferredRemovals}`,
  ];
}
