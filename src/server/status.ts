import * as grpc from '@grpc/grpc-js';
import { ZodError } from 'zod';
import { SnapshotError, type ErrorKind } from '../snapshots/errors';

/** containerd's errdefs mapping from error kinds to gRPC codes. */
const CODES: Record<ErrorKind, grpc.status> = {
  NotFound: grpc.status.NOT_FOUND,
  AlreadyExists: grpc.status.ALREADY_EXISTS,
  FailedPrecondition: grpc.status.FAILED_PRECONDITION,
  InvalidArgument: grpc.status.INVALID_ARGUMENT,
  Unimplemented: grpc.status.UNIMPLEMENTED,
  ResourceExhausted: grpc.status.RESOURCE_EXHAUSTED,
  Unavailable: grpc.status.UNAVAILABLE,
};

export interface StatusError {
  code: grpc.status;
  details: string;
}

/** The one place where errors become gRPC statuses; anything untyped is Unknown, as in containerd. */
export function toStatus(err: unknown): StatusError {
  if (err instanceof SnapshotError) return { code: CODES[err.kind], details: err.message };
  if (err instanceof ZodError) {
    const issue = err.issues[0];
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    return { code: grpc.status.INVALID_ARGUMENT, details: `invalid request: ${where}${issue.message}` };
  }
  return { code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}
