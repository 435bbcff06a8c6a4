/**
 * What the main thread and a changeset worker say to each other,
 * and how an error crosses between them keeping its class: structured
 * cloning keeps only an Error's message, and callers branch on the typed
 * errors (LayerFormatError, UnsafeEntryError, SnapshotError kinds, errno
 * codes).
 */
import { SnapshotError, type ErrorKind } from '../snapshots/errors';
import type { ApplyOptions } from './applier';
import type { RingMemory } from './byte-ring';
import type { ChangeSource } from './change-source';
import { LayerFormatError, UnsafeEntryError } from './errors';

/** Given once, when the thread starts. */
export interface WorkerSetup {
  /** Carries an apply job's tar bytes from the main thread (see byte-ring.ts). */
  ring: RingMemory;
  /**
   * One int32: how many chunks of the current layer job the main thread
   * has taken. The worker sends a bounded number ahead of it.
   */
  taken: SharedArrayBuffer;
}

export interface ApplyJob {
  root: string;
  opts: ApplyOptions;
}

/** A layer made of the changes `source` tells. */
export interface LayerJob {
  source: ChangeSource;
  sourceDateEpoch?: Date;
}

/** Main -> worker: a job. An apply job's bytes come through the ring. */
export type ToWorker = { apply: ApplyJob } | { layer: LayerJob };

/**
 * Worker -> main: exactly one outcome per job (entries written or
 * applied, or an error). A layer job first says whether its source tells
 * the changes (if not, that is its outcome), then sends its bytes in
 * chunks.
 */
export type FromWorker = { entries: number } | { error: WireError } | { told: boolean } | { chunk: Uint8Array };

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
