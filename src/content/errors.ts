import { status } from '@grpc/grpc-js';
import { SnapshotError, type ErrorKind } from '../snapshots/errors';

/**
 * containerd's answers become the model's typed errors, so a caller of the
 * diff service sees NotFound for a missing blob and not Unknown. Codes
 * without a model kind stay plain errors (Unknown at the gRPC boundary).
 */
const KINDS: Partial<Record<status, ErrorKind>> = {
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.FAILED_PRECONDITION]: 'FailedPrecondition',
  [status.INVALID_ARGUMENT]: 'InvalidArgument',
  [status.UNIMPLEMENTED]: 'Unimplemented',
  [status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [status.UNAVAILABLE]: 'Unavailable',
};

interface ServiceError extends Error {
  code: status;
  details: string;
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}

/** The error a failed call to containerd's `service` at `address` reports, typed by its status code. */
export function fromContainerd(err: unknown, service: string, address: string): unknown {
  if (!isServiceError(err)) return err;
  const kind = KINDS[err.code];
  const unreachable = err.code === status.UNAVAILABLE && err.details.startsWith('No connection established');
  const message = unreachable
    ? `cannot reach containerd's ${service} service at ${address}: ${err.details}`
    : `containerd ${service}: ${err.details}`;
  return kind === undefined ? new Error(message) : new SnapshotError(kind, message);
}

