import type * as grpc from '@grpc/grpc-js';
import type { ZodType } from 'zod';
import { toStatus } from './status';

/** One finished call: what logs and metrics are told. */
export interface ObservedCall {
  service: string;
  method: string;
  /** The request as received (before validation), for the snapshot key a log names. */
  request: unknown;
  seconds: number;
  /** Set when the call failed. */
  error?: unknown;
}

/** Told about every call, for logs and metrics; the gRPC layer stays unaware of either. */
export type CallObserver = (call: ObservedCall) => void;

/** A function to call when the call ends, with its error if it failed. */
function startObserving(service: string, method: string, request: unknown, observe: CallObserver): (error?: unknown) => void {
  const started = process.hrtime.bigint();
  return (error) => observe({ service, method, request, seconds: Number(process.hrtime.bigint() - started) / 1e9, error });
}

/**
 * A unary handler that validates the request with `schema`, runs `operation`
 * and converts whatever it throws into a gRPC status.
 */
export function unary<Req, Res>(
  service: string,
  method: string,
  schema: ZodType<Req>,
  operation: (request: Req, call: grpc.ServerUnaryCall<unknown, Res>) => Promise<Res> | Res,
  observe: CallObserver,
): grpc.handleUnaryCall<unknown, Res> {
  return (call, callback) => {
    const finish = startObserving(service, method, call.request, observe);
    Promise.resolve()
      .then(() => operation(schema.parse(call.request), call))
      .then(
        (response) => {
          finish();
          callback(null, response);
        },
        (err: unknown) => {
          finish(err);
          callback(toStatus(err));
        },
      );
  };
}

/**
 * A server-streaming handler: `produce` yields response messages, each
 * written only when the client has room for it, so memory stays flat however
 * long the stream is.
 */
export function serverStream<Req, Res>(
  service: string,
  method: string,
  schema: ZodType<Req>,
  produce: (request: Req) => Iterable<Res>,
  observe: CallObserver,
): grpc.handleServerStreamingCall<unknown, Res> {
  return (call) => {
    const finish = startObserving(service, method, call.request, observe);
    (async () => {
      for (const message of produce(schema.parse(call.request))) {
        if (call.cancelled) return;
        if (!call.write(message)) await roomOrCancel(call);
      }
    })().then(
      () => {
        finish();
        call.end();
      },
      (err: unknown) => {
        finish(err);
        call.emit('error', toStatus(err));
      },
    );
  };
}

function roomOrCancel(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      call.off('drain', done);
      call.off('cancelled', done);
      resolve();
    };
    call.on('drain', done);
    call.on('cancelled', done);
  });
}
