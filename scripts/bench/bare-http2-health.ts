/**
 * The least a Node.js gRPC server can do for a call: a bare node:http2 server
 * that answers every stream with a gRPC health response (SERVING), without
 * grpc-js, parsing nothing. transport.ts times it as the floor of any gRPC
 * server on this Node.js.
 *
 *   node dist/scripts/bench/bare-http2-health.js SOCKET
 */
import fs from 'node:fs';
import http2 from 'node:http2';

const socket = process.argv[2];
fs.rmSync(socket, { force: true });

// gRPC length-prefixed message: uncompressed, 2 bytes, HealthCheckResponse{status: SERVING}.
const SERVING = Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]);

const server = http2.createServer();
server.on('stream', (stream) => {
  stream.resume();
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(SERVING);
  });
});
server.listen(socket, () => console.log('ready'));
// server.close() would wait for the benchmark's client to hang up.
process.on('SIGTERM', () => process.exit(0));
