/**
 * gRPC's unary and server-streaming calls over node:http2 alone, without
 * grpc-js: enough of the protocol for snapbench (length-prefixed messages,
 * grpc-status in the trailers), none of its care (no deadlines, compression,
 * flow-control tuning or malformed-input handling). floor-server.ts serves
 * through it with `--bare-http2`, to show what the Node.js transport costs
 * below grpc-js.
 */
import http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

type Handler = grpc.handleUnaryCall<any, object> | grpc.handleServerStreamingCall<any, object>;

function frame(message: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Serves `implementation` of `service` on the unix socket `socket`. */
export function serveBareHttp2(socket: string, service: grpc.ServiceDefinition, implementation: Record<string, Handler>): http2.Http2Server {
  const methods = new Map(Object.entries(service).map(([name, method]) => [method.path, { method, handler: implementation[name] }]));
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const found = methods.get(String(headers[':path']));
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      if (!found?.handler) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
        return;
      }
      const body = Buffer.concat(chunks);
      const request = found.method.requestDeserialize(body.subarray(5, 5 + body.readUInt32BE(1)));
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      let status: { code: number; details?: string } = { code: 0 };
      stream.on('wantTrailers', () => {
        stream.sendTrailers({ 'grpc-status': String(status.code), ...(status.details ? { 'grpc-message': encodeURIComponent(status.details) } : {}) });
      });
      if (found.method.responseStream) {
        const call = {
          request,
          // List's handler writes pre-encoded batches of Info fields.
          write: (message: Buffer) => stream.write(frame(message)),
          end: () => stream.end(),
        };
        (found.handler as (call: unknown) => void)(call);
        return;
      }
      (found.handler as (call: unknown, callback: grpc.sendUnaryData<object>) => void)({ request }, (err, response) => {
        if (err) {
          status = { code: err.code ?? 2, details: err.details };
          stream.end();
        } else {
          stream.end(frame(found.method.responseSerialize(response)));
        }
      });
    });
  });
  server.listen(socket);
  return server;
}
