import { z } from 'zod';
import type { Mount, SnapshotInfo, Usage } from '../snapshots/types';
import { KIND_NAMES, toProtoKind } from './proto-kind';

/**
 * Request schemas and message conversions for containerd's snapshots API.
 * Requests arrive decoded by server/proto.ts with defaults filled in; the schemas
 * guard the shapes the handlers rely on. The `snapshotter` field names the
 * proxy plugin on containerd's side and is ignored here.
 */
const labels = z.record(z.string(), z.string()).default({});

export const createRequest = z.object({ key: z.string(), parent: z.string().default(''), labels });
export const keyRequest = z.object({ key: z.string() });
export const emptyRequest = z.object({});
export const commitRequest = z.object({
  name: z.string(),
  key: z.string(),
  labels,
  parent: z.string().default(''),
});
export const updateRequest = z.object({
  info: z.object({
    name: z.string(),
    parent: z.string().default(''),
    kind: z.enum(KIND_NAMES).default('UNKNOWN'),
    labels,
  }),
  update_mask: z.object({ paths: z.array(z.string()) }).nullable().default(null),
});
export const listRequest = z.object({ filters: z.array(z.string()).default([]) });

const NANOS_PER_SECOND = 1_000_000_000n;

/**
 * Seconds as a number (exact: far below 2^53): protobufjs converts a decimal
 * string to its Long by parsing it, which cost more than the rest of an Info
 * in a List.
 */
function toTimestamp(nanos: bigint) {
  return { seconds: Number(nanos / NANOS_PER_SECOND), nanos: Number(nanos % NANOS_PER_SECOND) };
}

export function toProtoInfo(info: SnapshotInfo) {
  return {
    name: info.name,
    parent: info.parent,
    kind: toProtoKind(info.kind),
    created_at: toTimestamp(info.createdAt),
    updated_at: toTimestamp(info.updatedAt),
    labels: info.labels,
  };
}

export function toProtoMounts(mounts: Mount[]) {
  return { mounts: mounts.map((m) => ({ type: m.type, source: m.source, target: m.target ?? '', options: m.options })) };
}

export function toProtoUsage(usage: Usage) {
  return { size: String(usage.size), inodes: String(usage.inodes) };
}
