import type * as grpc from '@grpc/grpc-js';

/**
 * The messages of a grpc-js client stream, ending with the call's error if
 * it fails. grpc-js reports a failed status (cancel() included) as a plain
 * 'error' event whenever it arrives: before anyone reads, or after the
 * reader has stopped. An 'error' event nobody listens to kills the process,
 * so one listener is attached here, at once, for the call's whole life.
 */
export function callMessages<T>(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>): AsyncGenerator<T> {
  let failure: { error: unknown } | undefined;
  call.on('error', (error: unknown) => {
    failure ??= { error };
  });
  return (async function* () {
    for await (const message of call as AsyncIterable<T>) yield message;
    // An error emitted before reading began leaves the stream looking complete.
    if (failure) throw failure.error;
  })();
}
