/**
 * Errors a caller of the changeset library can act on. Both are
 * InvalidArgument in the snapshot model: the layer (not the machine) is at
 * fault, so the gRPC layer maps them like any other bad request.
 */
import { SnapshotError } from '../snapshots/errors';

/** The stream is not a well-formed layer: truncated, corrupt, unsupported. */
export class LayerFormatError extends SnapshotError {
  constructor(message: string) {
    super('InvalidArgument', `invalid layer: ${message}`);
    this.name = 'LayerFormatError';
  }
}

/** An entry would create, change or delete something outside the target. */
export class UnsafeEntryError extends SnapshotError {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super('InvalidArgument', `unsafe layer entry ${JSON.stringify(entry)}: ${reason}`);
    this.name = 'UnsafeEntryError';
  }
}
