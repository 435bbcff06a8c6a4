import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { ReclaimEvent } from '../snapshots/snapshotter';
import type { CallObserver } from './handlers';
import { toStatus } from './status';

/**
 * Answers that are part of containerd's normal conversation: Stat of a key
 * before Prepare (NotFound), a key taken by a concurrent unpack
 * (AlreadyExists), a differ that hands a media type to the next one
 * (Unimplemented). Logged at debug, or every image pull would fill the log.
 */
const EXPECTED = new Set([grpc.status.NOT_FOUND, grpc.status.ALREADY_EXISTS, grpc.status.UNIMPLEMENTED]);

/** Failures of the server or the machine, not of the request. */
const SERVER_FAULTS = new Set([
  grpc.status.UNKNOWN,
  grpc.status.INTERNAL,
  grpc.status.UNAVAILABLE,
  grpc.status.DATA_LOSS,
  grpc.status.RESOURCE_EXHAUSTED,
]);

/** The snapshot a request names: `key` (most calls), `name` (Commit's new name) or `info.name` (Update). */
function snapshotFields(request: unknown): { key?: string; name?: string } {
  if (typeof request !== 'object' || request === null) return {};
  const r = request as { key?: unknown; name?: unknown; info?: { name?: unknown } };
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  return { key: text(r.key) ?? text(r.info?.name), name: text(r.name) };
}

/**
 * Logs every call: successes at debug; failures with service, method,
 * snapshot key and code, at debug when expected, at error when the server or
 * the machine is at fault, at warn otherwise.
 */
export function logCalls(logger: Logger): CallObserver {
  return ({ service, method, request, seconds, error }) => {
    if (error === undefined) {
      logger.debug({ service, method, ...snapshotFields(request), seconds }, 'call');
      return;
    }
    const { code, details } = toStatus(error);
    const level = EXPECTED.has(code) ? 'debug' : SERVER_FAULTS.has(code) ? 'error' : 'warn';
    logger[level]({ service, method, ...snapshotFields(request), code: grpc.status[code], seconds, err: details }, 'call failed');
  };
}

/** Logs what each Remove and Cleanup did to storage, at info: the operator's record of reclaimed space. */
export function logReclaims(logger: Logger): (event: ReclaimEvent) => void {
  return (event) => {
    if (event.operation === 'remove') {
      logger.info({ key: event.key, id: event.id, storage: event.storage }, 'snapshot removed');
    } else if (event.ids.length > 0) {
      logger.info({ reclaimed: event.ids.length, ids: event.ids }, 'cleanup reclaimed storage');
    } else {
      logger.debug({ reclaimed: 0 }, 'cleanup reclaimed storage');
    }
  };
}
