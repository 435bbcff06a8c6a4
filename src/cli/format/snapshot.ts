import type { Kind, SnapshotInfo } from '../../snapshots/types';

/** Kinds as ctr prints them. */
export const KIND_TITLES: Record<Kind, string> = { view: 'View', active: 'Active', committed: 'Committed' };

/** RFC 3339 with all nine digits of the nanosecond timestamp. */
export function formatTimestamp(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  return new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, `.${fraction}Z`);
}

export interface SnapshotJson {
  name: string;
  parent: string;
  kind: Kind;
  labels: Record<string, string>;
  created: string;
  updated: string;
}

export function snapshotJson(info: SnapshotInfo): SnapshotJson {
  return {
    name: info.name,
    parent: info.parent,
    kind: info.kind,
    labels: info.labels,
    created: formatTimestamp(info.createdAt),
    updated: formatTimestamp(info.updatedAt),
  };
}

export function labelLines(labels: Record<string, string>): string[] {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`);
}

export function describeSnapshot(info: SnapshotInfo): string {
  const lines = [
    `Name:     ${info.name}`,
    `Parent:   ${info.parent}`,
    `Kind:     ${KIND_TITLES[info.kind]}`,
    `Created:  ${formatTimestamp(info.createdAt)}`,
    `Updated:  ${formatTimestamp(info.updatedAt)}`,
    'Labels:',
    ...labelLines(info.labels).map((line) => `  ${line}`),
  ];
  return lines.join('\n');
}
