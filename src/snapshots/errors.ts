/**
 * Typed errors of the snapshot model. They mirror containerd's errdefs so the
 * gRPC layer can translate them to status codes in one place; nothing below
 * the server knows about gRPC.
 */
export type ErrorKind =
  | 'NotFound'
  | 'AlreadyExists'
  | 'FailedPrecondition'
  | 'InvalidArgument'
  | 'Unimplemented'
  | 'ResourceExhausted'
  | 'Unavailable';

export class SnapshotError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = `${kind}Error`;
  }
}

export const notFound = (message: string) => new SnapshotError('NotFound', message);
export const alreadyExists = (message: string) => new SnapshotError('AlreadyExists', message);
export const failedPrecondition = (message: string) => new SnapshotError('FailedPrecondition', message);
export const invalidArgument = (message: string) => new SnapshotError('InvalidArgument', message);
export const unimplemented = (message: string) => new SnapshotError('Unimplemented', message);
export const resourceExhausted = (message: string) => new SnapshotError('ResourceExhausted', message);
export const unavailable = (message: string) => new SnapshotError('Unavailable', message);

export function isSnapshotError(err: unknown, kind?: ErrorKind): err is SnapshotError {
  return err instanceof SnapshotError && (kind === undefined || err.kind === kind);
}
