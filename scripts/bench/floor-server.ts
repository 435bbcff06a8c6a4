/**
 * The floor of a snapshots server on this stack: grpc-js with strata's proto
 * layer, answering from a Map in memory, List from Infos encoded when they
 * were made. No validation, no metadata store, no fsync, no directories:
 * what Node.js and grpc-js cost per call, which no work strata does can go
 * below. snapshots.ts runs snapbench against it
 * beside strata and containerd.
 *
 *   node dist/scripts/bench/floor-server.js SOCKET
 */
import * as grpc from '@grpc/grpc-js';
import { infoField } from '../../src/server/list-responses';
import { encodeMessage, loadService, messageType, SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE } from '../../src/server/proto';

interface Entry {
  parent: string;
  kind: 'ACTIVE' | 'VIEW' | 'COMMITTED';
  /** Its Info as a field of a List response, encoded once when it is made. */
  listField: Buffer;
}

const socket = process.argv[2];
const snapshots = new Map<string, Entry>();
const time = { seconds: Math.floor(Date.now() / 1000), nanos: 0 };
const MOUNTS = { mounts: [{ type: 'bind', source: '/var/lib/strata/snapshots/1/fs', target: '', options: ['rbind', 'rw'] }] };
const notFound = { code: grpc.status.NOT_FOUND, details: 'not found' };
const INFO = messageType(SNAPSHOTS_PROTO, 'containerd.services.snapshots.v1.Info');
const info = (name: string, parent: string, kind: Entry['kind']) => ({ name, parent, kind, created_at: time, updated_at: time, labels: {} });

function entry(name: string, parent: string, kind: Entry['kind']): Entry {
  return { parent, kind, listField: infoField(encodeMessage(INFO, info(name, parent, kind))) };
}

type Unary = grpc.handleUnaryCall<any, object>;
const create = (kind: Entry['kind']): Unary => (call, callback) => {
  snapshots.set(call.request.key, entry(call.request.key, call.request.parent, kind));
  callback(null, MOUNTS);
};

const implementation: Record<string, Unary | grpc.handleServerStreamingCall<any, object>> = {
  Prepare: create('ACTIVE'),
  View: create('VIEW'),
  Mounts: (_call, callback) => callback(null, MOUNTS),
  Commit: ((call, callback) => {
    const active = snapshots.get(call.request.key);
    if (active === undefined) return callback(notFound);
    snapshots.delete(call.request.key);
    snapshots.set(call.request.name, entry(call.request.name, active.parent, 'COMMITTED'));
    callback(null, {});
  }) as Unary,
  Remove: ((call, callback) => callback(snapshots.delete(call.request.key) ? null : notFound, {})) as Unary,
  Stat: ((call, callback) => {
    const found = snapshots.get(call.request.key);
    if (found === undefined) return callback(notFound);
    callback(null, { info: info(call.request.key, found.parent, found.kind) });
  }) as Unary,
  Usage: (_call, callback) => callback(null, { size: '0', inodes: '0' }),
  Cleanup: (_call, callback) => callback(null, {}),
  List: ((call) => {
    // Batches of 100, as containerd's service and strata send them.
    let batch = [];
    for (const { listField } of snapshots.values()) {
      batch.push(listField);
      if (batch.length === 100) {
        call.write(Buffer.concat(batch));
        batch = [];
      }
    }
    if (batch.length > 0) call.write(Buffer.concat(batch));
    call.end();
  }) as grpc.handleServerStreamingCall<any, object>,
};

const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
server.addService(loadService(SNAPSHOTS_PROTO, SNAPSHOTS_SERVICE).service, implementation as grpc.UntypedServiceImplementation);
server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
});
process.on('SIGTERM', () => process.exit(0));
