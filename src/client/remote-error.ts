import { status } from '@grpc/grpc-js';

/** gRPC code names as containerd's errdefs spell them: NOT_FOUND becomes NotFound. */
export function codeName(code: status): string {
  const name = status[code] ?? `Code${code}`;
  return name
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}

/** A call the server answered with an error status; the message reads `NotFound: snapshot "x" does not exist`. */
export class RemoteError extends Error {
  readonly codeName: string;

  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    const name = codeName(code);
    super(`${name}: ${details}`);
    this.name = 'RemoteError';
    this.codeName = name;
  }
}

function isServiceError(err: unknown): err is Error & { code: status; details: string } {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}

/**
 * grpc-js reports a refused connection as `No connection established. Last
 * error: Error: connect ENOENT /x.sock. Resolution note: `; the reader needs
 * which server could not be reached and why.
 */
function connectFailure(details: string, address: string): string | undefined {
  const match = /^No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note:.*)?$/s.exec(details);
  return match ? `cannot connect to ${address}: ${match[1]}` : undefined;
}

export function toRemoteError(err: unknown, address: string): unknown {
  if (!isServiceError(err)) return err;
  const details = (err.code === status.UNAVAILABLE && connectFailure(err.details, address)) || err.details;
  return new RemoteError(err.code, details);
}
