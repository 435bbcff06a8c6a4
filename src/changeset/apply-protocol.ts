/**
 * What the applier (main thread) and the apply worker say to each other,
 * and how an error crosses between them keeping its class: structured
 * cloning keeps only an Error's message, and callers branch on the typed
 * errors (LayerFormatError, UnsafeEntryError, SnapshotError kinds, errno
 * codes).
 */
import { SnapshotError, type ErrorKind } from '../snapshots/errors';
import type { ApplyOptions } from './applier';
import { LayerFormatError, UnsafeEntryError } from './errors';

/** Given once, when the thread starts. */
export interface WorkerSetup {
  /** The ring of slots that carries tar bytes from the main thread. */
  ring: SharedArrayBuffer;
  slotBytes: number;
}

export interface ApplyJob {
  root: string;
  opts: ApplyOptions;
}

/**
 * Main -> worker, per apply: the job, its tar bytes (the first `length`
 * bytes of a ring slot), the end of them, or a reason to stop. A slot is
 * the worker's until it names it in `freed`; shared memory saves copying
 * and transferring the bytes a second time, and the number of slots bounds
 * the bytes in flight.
 */
export type ToWorker = { job: ApplyJob } | { slot: number; length: number } | { end: true } | { abort: string };

/** Worker -> main: slots it is done with, then exactly one outcome per job. */
export type FromWorker = { freed: number } | { entries: number } | { error: WireError };

export interface WireError {
  class: 'LayerFormatError' | 'UnsafeEntryError' | 'SnapshotError' | 'Error';
  message: string;
  stack?: string;
  kind?: ErrorKind;
  entry?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

export function toWire(err: unknown): WireError {
  if (!(err instanceof Error)) return { class: 'Error', message: String(err) };
  const { message, stack } = err;
  if (err instanceof UnsafeEntryError) return { class: 'UnsafeEntryError', message, stack, entry: err.entry };
  if (err instanceof LayerFormatError) return { class: 'LayerFormatError', message, stack };
  if (err instanceof SnapshotError) return { class: 'SnapshotError', message, stack, kind: err.kind };
  const { code, errno, syscall, path } = err as NodeJS.ErrnoException;
  return { class: 'Error', message, stack, code, errno, syscall, path };
}

export function fromWire(wire: WireError): Error {
  let err: Error;
  switch (wire.class) {
    case 'UnsafeEntryError': err = new UnsafeEntryError(wire.entry ?? '', ''); break;
    case 'LayerFormatError': err = new LayerFormatError(''); break;
    case 'SnapshotError': err = new SnapshotError(wire.kind ?? 'InvalidArgument', ''); break;
    default: err = Object.assign(new Error(), { code: wire.code, errno: wire.errno, syscall: wire.syscall, path: wire.path });
  }
  // The message was composed in the worker already; the constructors above would prefix it again.
  err.message = wire.message;
  if (wire.stack !== undefined) err.stack = wire.stack;
  return err;
}
