import * as grpc from '@grpc/grpc-js';

/**
 * Whom a call to containerd is made for: containerd scopes content and
 * leases by namespace, and its garbage collector keeps what a lease holds.
 */
export interface CallContext {
  namespace: string;
  /** Written content stays referenced by this lease until the caller takes it over. */
  lease?: string;
}

export const NAMESPACE_HEADER = 'containerd-namespace';
export const LEASE_HEADER = 'containerd-lease';

export function callMetadata(ctx: CallContext): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set(NAMESPACE_HEADER, ctx.namespace);
  if (ctx.lease !== undefined) metadata.set(LEASE_HEADER, ctx.lease);
  return metadata;
}

/** The first value of a header on an incoming call, if it was sent. */
export function headerOf(metadata: grpc.Metadata, name: string): string | undefined {
  const [value] = metadata.get(name);
  if (value === undefined || value === '') return undefined;
  return typeof value === 'string' ? value : value.toString('utf8');
}
