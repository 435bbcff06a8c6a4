import type { Kind } from '../snapshots/types';

/**
 * containerd's snapshot Kind enum as its names, and strata's kinds; apart
 * from the request schemas so clients convert kinds without loading zod.
 */
export const KIND_NAMES = ['UNKNOWN', 'VIEW', 'ACTIVE', 'COMMITTED'] as const;

export type ProtoKind = (typeof KIND_NAMES)[number];

const TO_PROTO_KIND: Record<Kind, ProtoKind> = { view: 'VIEW', active: 'ACTIVE', committed: 'COMMITTED' };

export function toProtoKind(kind: Kind | undefined): ProtoKind {
  return kind === undefined ? 'UNKNOWN' : TO_PROTO_KIND[kind];
}

export function fromProtoKind(kind: ProtoKind): Kind | undefined {
  return kind === 'UNKNOWN' ? undefined : (kind.toLowerCase() as Kind);
}
