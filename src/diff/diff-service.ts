import type * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { headerOf, LEASE_HEADER, NAMESPACE_HEADER, type CallContext } from '../content/call-context';
import { unary, type CallObserver } from '../server/handlers';
import type { Descriptor, Differ } from './differ';

export const DIFF_PROTO = 'containerd/services/diff/v1/diff.proto';
export const DIFF_SERVICE = 'containerd.services.diff.v1.Diff';

const SERVICE = 'diff';

/**
 * Requests as server/proto.ts decodes them (defaults filled in, int64 as
 * strings); payloads (inputs for stream processors such as decryption) are
 * not read: strata applies no media type that needs them.
 */
const mount = z.object({ type: z.string(), source: z.string(), target: z.string().default(''), options: z.array(z.string()).default([]) });
const descriptor = z.object({
  media_type: z.string(),
  digest: z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'expected a digest like sha256:<hex>'),
  size: z.coerce.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).default({}),
});
const timestamp = z.object({ seconds: z.coerce.number(), nanos: z.number().default(0) });

export const applyRequest = z.object({
  diff: descriptor.nullable().transform((d, ctx) => {
    if (d !== null) return d;
    ctx.addIssue({ code: 'custom', message: 'a descriptor of the layer to apply is required' });
    return z.NEVER;
  }),
  mounts: z.array(mount),
});

export const diffRequest = z.object({
  left: z.array(mount),
  right: z.array(mount),
  media_type: z.string().default(''),
  ref: z.string().default(''),
  labels: z.record(z.string(), z.string()).default({}),
  source_date_epoch: timestamp.nullable().default(null),
});

function toProto(desc: Descriptor) {
  return { media_type: desc.mediaType, digest: desc.digest, size: String(desc.size), annotations: desc.annotations ?? {} };
}

/**
 * containerd.services.diff.v1.Diff over a Differ: translation only. The
 * content store namespace (and lease) come from containerd's headers when
 * it sends them; containerd 1.7 does not for proxy differs, so the
 * configured namespace is the fallback.
 */
export function diffService(differ: Pick<Differ, 'apply' | 'diff'>, namespace: string, observe: CallObserver): grpc.UntypedServiceImplementation {
  const contextOf = (call: grpc.ServerUnaryCall<unknown, unknown>): CallContext => ({
    namespace: headerOf(call.metadata, NAMESPACE_HEADER) ?? namespace,
    lease: headerOf(call.metadata, LEASE_HEADER),
  });
  return {
    Apply: unary(SERVICE, 'Apply', applyRequest, async (r, call) => {
      const diff = r.diff;
      const desc = { mediaType: diff.media_type, digest: diff.digest, size: diff.size, annotations: diff.annotations };
      return { applied: toProto(await differ.apply(contextOf(call), desc, r.mounts)) };
    }, observe),
    Diff: unary(SERVICE, 'Diff', diffRequest, async (r, call) => {
      const epoch = r.source_date_epoch;
      const desc = await differ.diff(contextOf(call), {
        left: r.left,
        right: r.right,
        mediaType: r.media_type,
        ref: r.ref,
        labels: r.labels,
        sourceDateEpoch: epoch ? new Date(epoch.seconds * 1000 + Math.floor(epoch.nanos / 1e6)) : undefined,
      });
      return { diff: toProto(desc) };
    }, observe),
  };
}
