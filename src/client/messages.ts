import { fromProtoKind } from '../server/proto-kind';
import type { Mount, SnapshotInfo, Usage } from '../snapshots/types';

/**
 * Decoding of snapshots-API responses as server/proto.ts delivers them with its
 * decode options: enums as names, 64-bit integers as decimal strings.
 */
export interface ProtoTimestamp {
  seconds: string;
  nanos: number;
}

export interface ProtoInfo {
  name: string;
  parent: string;
  kind: 'UNKNOWN' | 'VIEW' | 'ACTIVE' | 'COMMITTED';
  created_at: ProtoTimestamp | null;
  updated_at: ProtoTimestamp | null;
  labels: Record<string, string>;
}

export interface ProtoMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

function fromTimestamp(ts: ProtoTimestamp | null): bigint {
  return ts === null ? 0n : BigInt(ts.seconds) * 1_000_000_000n + BigInt(ts.nanos);
}

export function fromProtoInfo(info: ProtoInfo): SnapshotInfo {
  const kind = fromProtoKind(info.kind);
  if (kind === undefined) throw new Error(`server reported snapshot ${JSON.stringify(info.name)} with kind UNKNOWN`);
  return {
    name: info.name,
    parent: info.parent,
    kind,
    labels: info.labels,
    createdAt: fromTimestamp(info.created_at),
    updatedAt: fromTimestamp(info.updated_at),
  };
}

export function fromProtoMounts(mounts: ProtoMount[]): Mount[] {
  return mounts.map((m) => ({
    type: m.type,
    source: m.source,
    ...(m.target === '' ? {} : { target: m.target }),
    options: m.options,
  }));
}

export function fromProtoUsage(usage: { size: string; inodes: string }): Usage {
  return { size: Number(usage.size), inodes: Number(usage.inodes) };
}
